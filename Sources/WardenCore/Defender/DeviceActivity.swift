public import Foundation

/// What one device did on one connection during one sampling interval (issue 16): the broker counts it on the
/// connection's event loop, without locks, and hands it to the `ConnectionObserver` once per interval, so
/// the Defender learns each device's behaviour off the packet path.
public struct DeviceActivity: Sendable, Hashable {
    public let tenantID: TenantID
    public let deviceID: DeviceID
    /// The interval's length.
    public let seconds: Double
    /// PUBLISHes the device sent, whether allowed or not.
    public let messages: Int
    /// Their payloads' bytes together, and the largest one.
    public let bytes: Int
    public let largestPayload: Int
    /// Distinct topics published to, at most `maximumTopics` (property bags left out).
    public let topics: [String]
    /// The interval's end.
    public let at: Date

    /// Topics one sample names, at most.
    public static let maximumTopics = 8

    public init(
        tenantID: TenantID, deviceID: DeviceID, seconds: Double, messages: Int, bytes: Int, largestPayload: Int,
        topics: [String], at: Date
    ) {
        self.tenantID = tenantID
        self.deviceID = deviceID
        self.seconds = seconds
        self.messages = messages
        self.bytes = bytes
        self.largestPayload = largestPayload
        self.topics = topics
        self.at = at
    }

    /// PUBLISHes per second over the interval.
    public var messageRate: Double { seconds > 0 ? Double(messages) / seconds : 0 }
}

/// How an authenticated connection ended, for the Defender's abnormal-disconnect rule.
public struct ConnectionEnding: Sendable, Hashable {
    public enum Cause: String, Sendable, Hashable, CaseIterable {
        /// The client sent DISCONNECT.
        case clientDisconnect = "client-disconnect"
        /// The server closed it on purpose: a revocation, a ban, a takeover of its session, a shutdown.
        case serverClosed = "server-closed"
        /// No packet within the keep-alive's grace.
        case keepAliveTimeout = "keep-alive-timeout"
        /// A malformed packet, a protocol error, a packet over a limit.
        case protocolError = "protocol-error"
        /// The socket closed without a DISCONNECT.
        case transportClosed = "transport-closed"

        /// Whether a healthy client ends a connection this way only rarely.
        public var isAbnormal: Bool {
            switch self {
            case .clientDisconnect, .serverClosed: false
            case .keepAliveTimeout, .protocolError, .transportClosed: true
            }
        }
    }

    public let tenantID: TenantID
    /// The device id, or `$service/{policy}`.
    public let principal: String
    public let peerAddress: IPAddress
    public let cause: Cause
    public let at: Date

    public init(tenantID: TenantID, principal: String, peerAddress: IPAddress, cause: Cause, at: Date) {
        self.tenantID = tenantID
        self.principal = principal
        self.peerAddress = peerAddress
        self.cause = cause
        self.at = at
    }
}

/// Where the broker reports what devices do (once per sampling interval per connection) and how connections
/// end; the Defender learns and judges from it.
public protocol ConnectionObserver: Sendable {
    /// Seconds between two `activity` reports of one connection.
    var sampleInterval: Double { get }
    func activity(_ sample: DeviceActivity)
    func ended(_ ending: ConnectionEnding)
}
