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
    /// Distinct topics published to, at most `maximumTopics`, as `topicKey` gives them.
    public let topics: [String]
    /// Whether it published to more distinct topics than `topics` holds.
    public let moreTopics: Bool
    /// The interval's end.
    public let at: Date

    /// Topics one sample names, at most, and the bytes of each kept.
    public static let maximumTopics = 8
    public static let maximumTopicBytes = 256

    /// A topic as the Defender learns it: without an Azure property bag (`devices/d/messages/events/a=1` is
    /// `devices/d/messages/events/`), cut to `maximumTopicBytes`.
    public static func topicKey(_ topic: String) -> String {
        var key = Substring(topic)
        if let end = endOfEvents(in: topic.utf8) { key = topic[..<end] }
        return String(key).utf8Prefix(maximumTopicBytes)
    }

    private static let events = Array("/messages/events/".utf8)

    /// Where the first `/messages/events/` among the bytes ends: searched by hand (the standard library's
    /// generic `firstRange(of:)` cost more than the rest of a device's message on the AMQP path), and among the
    /// bytes, since a `Character` search would not see the last `/` before a combining mark.
    private static func endOfEvents(in bytes: String.UTF8View) -> String.Index? {
        var from = bytes.startIndex
        while let slash = bytes[from...].firstIndex(of: UInt8(ascii: "/")) {
            if bytes[slash...].starts(with: events) { return bytes.index(slash, offsetBy: events.count) }
            from = bytes.index(after: slash)
        }
        return nil
    }

    public init(
        tenantID: TenantID, deviceID: DeviceID, seconds: Double, messages: Int, bytes: Int, largestPayload: Int,
        topics: [String], moreTopics: Bool = false, at: Date
    ) {
        self.tenantID = tenantID
        self.deviceID = deviceID
        self.seconds = seconds
        self.messages = messages
        self.bytes = bytes
        self.largestPayload = largestPayload
        self.topics = topics
        self.moreTopics = moreTopics
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
        /// The server closed it on purpose: a revocation, a ban, a shutdown.
        case serverClosed = "server-closed"
        /// Another connection with the same client id took its session over.
        case sessionTakenOver = "session-taken-over"
        /// No packet within the keep-alive's grace.
        case keepAliveTimeout = "keep-alive-timeout"
        /// A malformed packet, a protocol error, a packet over a limit.
        case protocolError = "protocol-error"
        /// The socket closed without a DISCONNECT.
        case transportClosed = "transport-closed"

        /// Whether a healthy client ends a connection this way only rarely.
        public var isAbnormal: Bool {
            switch self {
            case .clientDisconnect, .serverClosed, .sessionTakenOver: false
            case .keepAliveTimeout, .protocolError, .transportClosed: true
            }
        }
    }

    public let tenantID: TenantID
    /// The device id, or `$service/{policy}`.
    public let principal: String
    /// The device, when an authenticated device's connection ended (nil for a service).
    public let deviceID: DeviceID?
    public let peerAddress: IPAddress
    public let cause: Cause
    public let at: Date

    public init(
        tenantID: TenantID, principal: String, deviceID: DeviceID?, peerAddress: IPAddress, cause: Cause, at: Date
    ) {
        self.tenantID = tenantID
        self.principal = principal
        self.deviceID = deviceID
        self.peerAddress = peerAddress
        self.cause = cause
        self.at = at
    }
}

/// Where the broker reports devices' connections, what devices do (once per sampling interval per connection)
/// and how connections end; the Defender keeps its inventory, learns and judges from it.
public protocol ConnectionObserver: Sendable {
    /// Seconds between two `activity` reports of one connection; 0: none (nothing is counted per PUBLISH).
    var sampleInterval: Double { get }
    func connected(_ connection: DeviceConnection)
    func activity(_ sample: DeviceActivity)
    /// Telemetry a device sent over the HTTPS device API, allowed or not (MQTT connections count their own
    /// PUBLISHes and report them as `activity`).
    func deviceSent(_ deviceID: DeviceID, in tenantID: TenantID, topic: String, bytes: Int)
    func ended(_ ending: ConnectionEnding)
}

/// A device's accepted connection as the Defender's inventory keeps it (issue 16, "Identify"): where from, over
/// what, and with which client, as it said.
public struct DeviceConnection: Sendable, Hashable {
    public let tenantID: TenantID
    public let deviceID: DeviceID
    public let peerAddress: IPAddress
    /// `mqtt`, `mqtt-ws`.
    public let protocolName: String
    /// `sas`, `x509-thumbprint`, `x509-ca`.
    public let method: String
    /// `1.2`, `1.3`, or nil without TLS.
    public let tlsVersion: String?
    /// The negotiated suite's standard name, when known.
    public let cipherSuite: String?
    /// What the client says it is (the MQTT username's `DeviceClientType`), at most 128 printable characters.
    public let clientLibrary: String?
    /// The client certificate's expiry, when one was presented.
    public let certificateNotAfter: Date?
    public let at: Date

    public init(
        tenantID: TenantID, deviceID: DeviceID, peerAddress: IPAddress, protocolName: String, method: String,
        tlsVersion: String?, cipherSuite: String?, clientLibrary: String?, certificateNotAfter: Date?, at: Date
    ) {
        self.tenantID = tenantID
        self.deviceID = deviceID
        self.peerAddress = peerAddress
        self.protocolName = protocolName
        self.method = method
        self.tlsVersion = tlsVersion
        self.cipherSuite = cipherSuite
        self.clientLibrary = clientLibrary
        self.certificateNotAfter = certificateNotAfter
        self.at = at
    }

    /// Client library names longer than this are cut.
    public static let maximumClientLibrary = 128

    /// The `DeviceClientType` of an MQTT username's query (`…/?api-version=…&DeviceClientType=azure-iot-device%2F2.0`),
    /// decoded, cut to `maximumClientLibrary` and kept to printable ASCII; nil when absent.
    public static func clientLibrary(inUsername username: String) -> String? {
        guard let query = username.split(separator: "?", maxSplits: 1).dropFirst().first else { return nil }
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "deviceclienttype" else { continue }
            let decoded = PercentEncoding.decodeText(parts[1]) ?? String(parts[1])
            let printable = String(decoded.unicodeScalars.filter { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F })
            return printable.isEmpty ? nil : String(printable.prefix(maximumClientLibrary))
        }
        return nil
    }
}

/// What the audit log says of a tenant's (or the platform's) security over time, for the posture report's
/// charts: counts per time bucket, and the last backup.
public struct SecurityActivity: Sendable, Hashable {
    public struct Bucket: Sendable, Hashable {
        public let start: Date
        /// Accepted device and service authentications (connections, HTTPS requests).
        public var connections = 0
        /// Refused authentications.
        public var authenticationFailures = 0
        /// Device and service requests the policy refused.
        public var denials = 0
        /// Alerts the Defender raised.
        public var alerts = 0

        public init(start: Date) { self.start = start }
    }

    public var buckets: [Bucket]
    public var lastBackup: Date?

    public init(buckets: [Bucket], lastBackup: Date?) {
        self.buckets = buckets
        self.lastBackup = lastBackup
    }
}
