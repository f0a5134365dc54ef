import CoreMetrics
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
        for filter in filters where state.spaces[session.key.tenantID]?.unsubscribe(session, filter) == true {
            state.countInterest(in: session.key.tenantID, filter, -1)
        }
    }

    /// Adds subscriptions of a SUBSCRIBE read at `readAt`; returns per request the granted QoS (nil: refused by
    /// the per-session limit) and the retained messages to send after SUBACK. Messages another connection
    /// published just before the subscriptions were installed, but read no earlier than the late-subscription
    /// window before the SUBSCRIBE, are delivered at once (`RecentMessages`).
    func subscribe(_ session: Session, _ requests: [SubscribeRequest], readAt: NIODeadline = .now())
        -> [(granted: QoS?, retained: [Delivery])]
    {
        let tenantID = session.key.tenantID
        var refused: [(Decision, String)] = []
        let results = state.withLock { state -> [(granted: QoS?, retained: [Delivery])] in
            // A session released to another node while its connection closes takes no more subscriptions.
            guard state.sessions[session.key] === session else { return requests.map { _ in (nil, []) } }
            let earlier = session.withState { $0.subscriptions }
            let results = requests.map { request -> (granted: QoS?, retained: [Delivery]) in
                let count = session.withState { $0.subscriptions.count }
                let exists = session.withState { $0.subscriptions[request.filter] != nil }
                guard exists || count < configuration.maximumSubscriptionsPerSession else {
                    metrics.hit(.subscriptionsPerSession)
                    return (nil, [])
                }
                let isNew = state.spaces[tenantID, default: TopicSpace()].subscribe(
                    session, request.filter, request.options)
                if isNew { state.countInterest(in: tenantID, request.filter, 1) }
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
            let window = configuration.lateSubscriptionWindow
            // Entries older than twice the window serve no SUBSCRIBE still on its way (one read earlier but held up
            // takes the lock after this one only by as long as its loop was held up).
            if window > .zero,
                let recent = state.spaces[tenantID]?.recent.read(
                    since: readAt - window, forgetting: readAt - window * 2)
            {
                let late = lateDeliveries(
                    to: session, of: zip(requests, results).compactMap { $1.granted == nil ? nil : $0 },
                    among: recent,
                    skipping: earlier, refused: &refused)
                // Under the lock, so that what is routed to the session after it is released comes after these;
                // this runs on the subscriber's own loop, so they are encoded into its turn's buffer, not written.
                let now = NIODeadline.now()
                for delivery in late { deliver(delivery, to: session, now: now) }
                if !late.isEmpty { metrics.lateDeliveries.increment(by: late.count) }
            }
            return results
        }
        if let receiveCheck, let sink = session.sink {
            for (decision, topic) in refused {
                receiveCheck.record(
                    decision, topic, to: sink.identity, clientID: session.key.clientID, context: sink.policyContext)
            }
        }
        return results
    }

    /// The recent messages the new subscriptions match, each once with the merged options of those that match it
    /// (as routing merges them), unless the session's own, expired, taken by an earlier subscription of the
    /// session, or refused by the policy's `receive` (collected in `refused`).
    private func lateDeliveries(
        to session: Session, of requests: [SubscribeRequest], among recent: [BrokerMessage],
        skipping earlier: [TopicFilter: SubscriptionOptions], refused: inout [(Decision, String)]
    ) -> [Delivery] {
        let now = NIODeadline.now()
        let requests = requests.filter { $0.filter.shareName == nil }
        let sink = session.sink
        return recent.compactMap { message in
            guard message.publisher != session.key, !(message.expiresAt.map { $0 <= now } ?? false),
                !earlier.contains(where: { $0.key.shareName == nil && $0.key.matches(message.topic) })
            else { return nil }
            let matching = requests.filter { $0.filter.matches(message.topic) }.map(\.options)
            guard let qos = matching.map(\.qos).max() else { return nil }
            if let receiveCheck, let sink,
                let decision = receiveCheck.refusal(of: message.topic, to: sink.identity, in: sink.policyContext)
            {
                if !refused.contains(where: { TopicKey($0.1) == TopicKey(message.topic) }) {
                    refused.append((decision, message.topic))
                }
                return nil
            }
            return Delivery(
                message: message, qos: min(message.qos, qos),
                retain: false,
                subscriptionIdentifiers: matching.compactMap(\.identifier))
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
                let existed = state.spaces[session.key.tenantID]?.unsubscribe(session, filter) ?? false
                if existed { state.countInterest(in: session.key.tenantID, filter, -1) }
                return existed
            }
        }
    }

}
