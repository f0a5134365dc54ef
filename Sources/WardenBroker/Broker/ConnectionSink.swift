import NIOCore
import WardenAuthentication
import WardenCore
import WardenMQTT
import WardenPolicy

/// Where a session's packets go while a connection holds it. Callable from any thread: an implementation
/// hops to its connection's event loop and coalesces flushes.
protocol ConnectionSink: AnyObject, Sendable {
    /// Writes `packets` in order.
    func send(_ packets: [MQTTPacket])
    /// Writes one packet (no array to allocate on the per-message path).
    func send(_ packet: MQTTPacket)
    /// Who is behind the connection, for live revocation.
    var identity: ClientIdentity { get }
    /// The client's address, for IP filter changes and policy conditions.
    var peerAddress: IPAddress { get }
    /// What policy conditions see of the connection: address, protocol, TLS version, client certificate, when
    /// it was accepted.
    var policyContext: PolicyContext { get }
    /// Ends the connection because the broker decided so: 5.0 clients get DISCONNECT with `reason` first.
    func close(_ reason: ReasonCode, reasonString: String?)
    /// Completes once the connection's event loop has read what its socket holds now (nil for a sink with no
    /// socket).
    func caughtUp() -> EventLoopFuture<Void>?
}

extension ConnectionSink {
    func send(_ packet: MQTTPacket) { send([packet]) }

    /// The authenticated device behind the connection, if it is one.
    var device: DeviceIdentity? { identity.deviceIdentity }
}
