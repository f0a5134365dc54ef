import NIOCore
import WardenMQTT

/// A message on its way to one session: the QoS it is delivered at, the RETAIN flag the subscriber sees,
/// and the identifiers of the subscriptions that matched (5.0 §3.3.4).
struct Delivery: Sendable {
    let message: BrokerMessage
    let qos: QoS
    let retain: Bool
    let subscriptionIdentifiers: [Int]
    /// The row holding it while its session is stored (persistent sessions, QoS 1 and 2 only).
    var sequence: Int64?

    /// The bytes it holds against a session's queue limit.
    var size: Int { message.payload.readableBytes + message.topic.utf8.count }
}
