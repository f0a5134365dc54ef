import Logging
import NIOCore
import WardenAuthentication
import WardenAzure
import WardenCore
import WardenMQTT
import WardenPolicy

/// SUBSCRIBE and UNSUBSCRIBE: authorize each filter, answer SUBACK, then send matching retained messages.
extension MQTTConnectionHandler {
    func handleSubscribe(_ subscribe: SubscribePacket) {
        guard let connection else { return }
        let readAt = NIODeadline.now()
        if connection.identity.registration != nil {
            return subscribeRegistration(subscribe, version: connection.version)
        }
        let identifier = subscribe.properties.subscriptionIdentifiers.first
        var codes = [ReasonCode?](repeating: nil, count: subscribe.subscriptions.count)
        var requests: [(index: Int, request: Broker.SubscribeRequest)] = []
        for (index, subscription) in subscribe.subscriptions.enumerated() {
            let decision = authorize(connection.identity, .filter(subscription.filter))
            guard decision.isAllowed else {
                log(.info, "Denied a subscription.", metadata: decision.metadata)
                recordDenial(decision, .filter(subscription.filter))
                codes[index] = connection.version == .v5 ? .notAuthorized : .unspecifiedError
                continue
            }
            // Azure's dialect has no QoS 2: it is granted QoS 1 (anchors.md §1.3).
            let isAzure = connection.identity.deviceIdentity?.dialect == .azure
            let options = SubscriptionOptions(
                qos: isAzure ? min(subscription.qos, .atLeastOnce) : subscription.qos, noLocal: subscription.noLocal,
                retainAsPublished: subscription.retainAsPublished, identifier: identifier)
            requests.append(
                (
                    index,
                    Broker.SubscribeRequest(
                        filter: subscription.filter, options: options, retainHandling: subscription.retainHandling)
                ))
        }
        let results = services.broker.subscribe(connection.session, requests.map(\.request), readAt: readAt)
        var retained: [Delivery] = []
        for ((index, _), result) in zip(requests, results) {
            if let granted = result.granted {
                codes[index] = ReasonCode(rawValue: granted.rawValue)
                retained += result.retained
            } else {
                codes[index] = connection.version == .v5 ? .quotaExceeded : .unspecifiedError
            }
        }
        send([.suback(SubAckPacket(packetID: subscribe.packetID, reasonCodes: codes.map { $0 ?? .unspecifiedError }))])
        if let device = connection.identity.deviceIdentity { services.broker.deviceReady(device.sender) }
        let now = NIODeadline.now()
        for delivery in retained {
            services.broker.deliver(delivery, to: connection.session, now: now)
        }
    }

    /// A provisioning client subscribes to its responses only (granted QoS 1 at most, as DPS does); they are
    /// sent to its connection, never through a topic space.
    private func subscribeRegistration(_ subscribe: SubscribePacket, version: ProtocolVersion) {
        guard let connection else { return }
        let codes = subscribe.subscriptions.map { subscription -> ReasonCode in
            let decision = authorize(connection.identity, .filter(subscription.filter))
            guard decision.isAllowed else {
                recordDenial(decision, .filter(subscription.filter))
                return version == .v5 ? .notAuthorized : .unspecifiedError
            }
            return ReasonCode(rawValue: min(subscription.qos, .atLeastOnce).rawValue)
        }
        send([.suback(SubAckPacket(packetID: subscribe.packetID, reasonCodes: codes))])
    }

    func handleUnsubscribe(_ unsubscribe: UnsubscribePacket) {
        guard let connection else { return }
        let existed = services.broker.unsubscribe(connection.session, unsubscribe.filters)
        let codes: [ReasonCode] =
            connection.version == .v5 ? existed.map { $0 ? .success : .noSubscriptionExisted } : []
        send([.unsuback(SubAckPacket(packetID: unsubscribe.packetID, reasonCodes: codes))])
    }
}
