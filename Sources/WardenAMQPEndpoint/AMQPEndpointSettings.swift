public import NIOCore

/// The AMQP endpoint's limits (`amqp.*` in docs/configuration.md); each is enforced and refused by name.
public struct AMQPEndpointSettings: Sendable {
    /// The largest frame this endpoint reads, and writes at most (the peer's own maximum is honoured too).
    public var maximumFrameSize = 64 * 1024
    /// The largest message, its transfers joined (Azure IoT Hub's 256 KiB).
    public var maximumMessageSize = 256 * 1024
    /// AMQP connections at once, past the per-address budgets (as `mqtt.max-connections` for MQTT).
    public var maximumConnections = 100_000
    /// Sessions on one connection (announced as `channel-max`).
    public var maximumSessions = 4
    /// Links on one session (announced as `handle-max`): the C SDK puts every device it multiplexes on one
    /// session, a few links each. What they may hold waiting is bounded apart (four links' credit).
    public var maximumLinksPerSession = 256
    /// Devices one connection may carry (the C SDK multiplexes devices over one connection).
    public var maximumDevicesPerConnection = 64
    /// Messages a device may have sent on one link and not yet had acknowledged (the link credit granted):
    /// each waits for its commit.
    public var linkCredit: UInt32 = 100
    /// From the TCP accept to the first device's authentication (SASL PLAIN, or a CBS put-token).
    public var authenticationTimeout: TimeAmount = .seconds(10)
    /// A connection that sends nothing for this long is closed; announced as `idle-time-out`.
    public var idleTimeout: TimeAmount = .seconds(240)

    public init() {}
}
