import NIOCore
import Synchronization
import WardenCore
import WardenMQTT
import WardenStore

/// Subscriptions: each session's table and the tenant's topic space, changed together under the broker's lock.
extension Broker {
    static func removeSubscriptions(of session: Session, from state: inout State) {
        let filters = session.withState { session in
            defer { session.subscriptions = [:] }
            return Array(session.subscriptions.keys)
        }
        for filter in filters {
            _ = state.spaces[session.key.tenantID]?.unsubscribe(session, filter)
        }
    }

    /// Adds subscriptions; returns per request the granted QoS (nil: refused by the per-session limit)
    /// and the retained messages to send after SUBACK.
    func subscribe(_ session: Session, _ requests: [SubscribeRequest]) -> [(granted: QoS?, retained: [Delivery])] {
        let tenantID = session.key.tenantID
        return state.withLock { state in
            requests.map { request in
                let count = session.withState { $0.subscriptions.count }
                let exists = session.withState { $0.subscriptions[request.filter] != nil }
                guard exists || count < configuration.maximumSubscriptionsPerSession else {
                    metrics.hit(.subscriptionsPerSession)
                    return (nil, [])
                }
                let isNew = state.spaces[tenantID, default: TopicSpace()].subscribe(
                    session, request.filter, request.options)
                session.withState { stored in
                    stored.subscriptions[request.filter] = request.options
                    if stored.isStored, let persistence {
                        persistence.record([persistence.subscription(session.key, request.filter, request.options)])
                    }
                }
                let wantsRetained =
                    switch request.retainHandling {
                    case .sendOnSubscribe: true
                    case .sendOnNewSubscribe: isNew
                    case .doNotSend: false
                    }
                guard wantsRetained, let space = state.spaces[tenantID] else { return (request.options.qos, []) }
                let retained = space.retainedMessages(matching: request.filter).map { message in
                    Delivery(
                        message: message, qos: min(message.qos, request.options.qos), retain: true,
                        subscriptionIdentifiers: request.options.identifier.map { [$0] } ?? [])
                }
                return (request.options.qos, retained)
            }
        }
    }

    /// Removes subscriptions; returns per filter whether one existed.
    func unsubscribe(_ session: Session, _ filters: [TopicFilter]) -> [Bool] {
        state.withLock { state in
            filters.map { filter in
                session.withState { stored in
                    stored.subscriptions[filter] = nil
                    if stored.isStored {
                        persistence?.record([
                            .deleteSubscription(
                                tenantID: session.key.tenantID, clientID: session.key.clientID, filter: filter.rawValue)
                        ])
                    }
                }
                return state.spaces[session.key.tenantID]?.unsubscribe(session, filter) ?? false
            }
        }
    }

    /// Start-up: a subscription of a stored session.
    func restoreSubscription(_ session: Session, _ filter: TopicFilter, _ options: SubscriptionOptions) {
        state.withLock { state in
            _ = state.spaces[session.key.tenantID, default: TopicSpace()].subscribe(session, filter, options)
            session.withState { $0.subscriptions[filter] = options }
        }
    }

}
