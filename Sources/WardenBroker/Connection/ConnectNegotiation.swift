import NIOCore
import WardenAuthentication
import WardenAzure
import WardenCore
import WardenMQTT

/// Why a CONNECT is refused, with its one CONNACK code per protocol version ([MQTT-3.2.2-*]).
enum ConnectRefusal: Equatable, Sendable {
    /// The credential did not verify (3.1.1: 4, 5.0: 0x86).
    case badCredentials
    /// The credential verified but may not connect, or the Will topic is not allowed (3.1.1: 5, 5.0: 0x87).
    case notAuthorized
    /// A 5.0 Authentication Method the hub does not know (0x8C; 3.1.1 cannot ask for one).
    case badAuthenticationMethod
    /// A ClientId the server will not take, or none where one is needed (3.1.1: 2, 5.0: 0x85).
    case clientIdentifierNotValid
    /// The connection limit is reached (3.1.1: 3, 5.0: 0x97).
    case serverBusy
    /// A ban refuses the client id or the device (3.1.1: 5, 5.0: 0x8A).
    case banned
    /// The session to resume could not be read from the store (3.1.1: 3, 5.0: 0x88).
    case serverUnavailable

    init(_ refusal: AuthenticationRefusal) {
        self =
            refusal.reason.code == .authBanned
            ? .banned
            : refusal.isUnsupportedMethod
                ? .badAuthenticationMethod : refusal.isCredentialFailure ? .badCredentials : .notAuthorized
    }

    func code(_ version: ProtocolVersion) -> ReasonCode {
        switch (self, version) {
        case (.badCredentials, .v311), (.badAuthenticationMethod, .v311):
            ConnAckPacket.ReturnCode.badUsernameOrPassword
        case (.badCredentials, .v5): .badUserNameOrPassword
        case (.notAuthorized, .v311): ConnAckPacket.ReturnCode.notAuthorized
        case (.notAuthorized, .v5): .notAuthorized
        case (.badAuthenticationMethod, .v5): .badAuthenticationMethod
        case (.clientIdentifierNotValid, .v311): ConnAckPacket.ReturnCode.identifierRejected
        case (.clientIdentifierNotValid, .v5): .clientIdentifierNotValid
        case (.serverBusy, .v311): ConnAckPacket.ReturnCode.serverUnavailable
        case (.serverBusy, .v5): .quotaExceeded
        case (.banned, .v311): ConnAckPacket.ReturnCode.notAuthorized
        case (.banned, .v5): .banned
        case (.serverUnavailable, .v311): ConnAckPacket.ReturnCode.serverUnavailable
        case (.serverUnavailable, .v5): .serverUnavailable
        }
    }

    /// The CONNACK that says so.
    func connack(_ version: ProtocolVersion) -> ConnAckPacket {
        ConnAckPacket(sessionPresent: false, reasonCode: code(version))
    }
}

/// CONNECT negotiation as a pure step (STYLE R6.5): the CONNECT, who it authenticated as and the listener's
/// limits in; the terms the connection runs on and its CONNACK, or the refusal, out. No I/O and no clock
/// beyond the `now` values given, so every rule is tested without a channel.
enum ConnectNegotiation {
    /// What the server allows and advertises.
    struct Limits: Sendable, Equatable {
        /// Sessions outlive their connection at most this long, seconds.
        var maximumSessionExpiry: UInt32 = .max
        /// A cap on a 5.0 client's keep-alive (told as Server Keep Alive); nil for none.
        var maximumKeepAlive: UInt16?
        /// The keep-alive Azure-dialect devices get at most, also when they ask for none (anchors.md §1.3: IoT
        /// Hub's 1767 s idle limit is 1.5 × 1177 s). 3.1.1 cannot be told, but is held to it all the same.
        var azureMaximumKeepAlive: UInt16 = 1177
        /// Inbound QoS 2 messages awaiting PUBREL (advertised as 5.0 Receive Maximum).
        var receiveMaximum: UInt16 = 100
        /// The highest inbound Topic Alias (advertised as 5.0 Topic Alias Maximum).
        var topicAliasMaximum: UInt16 = 16
        /// The largest packet accepted (advertised as 5.0 Maximum Packet Size).
        var maximumPacketSize: Int = DecodingLimits().maximumPacketSize
        /// The outbound window of a 3.1.1 client, which cannot state a Receive Maximum.
        var maximumInflight: Int = 100
    }

    /// What an accepted connection runs on.
    struct Terms: Equatable, Sendable {
        let version: ProtocolVersion
        /// The ClientId: the client's, or one the server assigned.
        let clientID: String
        let cleanStart: Bool
        /// The keep-alive in force, seconds (0: off).
        let keepAlive: UInt16
        /// The session expiry in force, seconds.
        let sessionExpiry: UInt32
        /// The outbound window: the client's Receive Maximum (5.0) or the configured inflight (3.1.1).
        let receiveMaximum: Int
        /// The largest packet the client accepts ([MQTT-3.1.2-24]); `Int.max` when it set none.
        let clientMaximumPacketSize: Int
        /// When the credential stops being valid, on the monotonic clock.
        let credentialDeadline: NIODeadline?
        /// The 5.0 Authentication Method, for re-authentication.
        let authenticationMethod: String?
        /// The CONNACK's properties; the session-present flag comes when the session is taken up.
        let connackProperties: Properties

        func connack(sessionPresent: Bool) -> ConnAckPacket {
            ConnAckPacket(sessionPresent: sessionPresent, reasonCode: .success, properties: connackProperties)
        }
    }

    enum Outcome: Equatable, Sendable {
        case accept(Terms)
        case refuse(ConnectRefusal)
        /// Even the CONNACK is larger than the client accepts: the connection closes without one, because a
        /// DISCONNECT may not come before a CONNACK ([MQTT-3.1.2-25], [MQTT-3.14.0-1]).
        case closeWithoutConnack
    }

    /// Negotiates `connect` for `identity`. `willAllowed` is the policy's answer for the Will topic (true when
    /// there is no Will); `unixNow` and `now` place the credential's expiry; `assignClientID` makes a ClientId
    /// for a client that sent none.
    static func negotiate(
        _ connect: ConnectPacket, identity: ClientIdentity, willAllowed: Bool, limits: Limits, unixNow: UInt64,
        now: NIODeadline, assignClientID: () -> String
    ) -> Outcome {
        let version = connect.protocolVersion
        var properties = Properties()
        var clientID = connect.clientID
        if clientID.isEmpty {
            // Devices are their ClientId; others may let the server choose ([MQTT-3.1.3-6]; 3.1.1 only with
            // clean session, [MQTT-3.1.3-7]).
            guard identity.deviceIdentity == nil, connect.cleanStart || version == .v5 else {
                return .refuse(.clientIdentifierNotValid)
            }
            clientID = assignClientID()
            if version == .v5 { properties.assignedClientIdentifier = clientID }
        }
        guard willAllowed else { return .refuse(.notAuthorized) }

        let requestedExpiry: UInt32 =
            version == .v5 ? connect.properties.sessionExpiryInterval ?? 0 : (connect.cleanStart ? 0 : .max)
        let sessionExpiry = min(requestedExpiry, limits.maximumSessionExpiry)
        if version == .v5, sessionExpiry != requestedExpiry { properties.sessionExpiryInterval = sessionExpiry }

        var keepAlive = connect.keepAlive
        if version == .v5, let maximum = limits.maximumKeepAlive, keepAlive == 0 || keepAlive > maximum {
            keepAlive = maximum
            properties.serverKeepAlive = maximum
        }
        if identity.deviceIdentity?.dialect == .azure {
            if keepAlive == 0 || keepAlive > limits.azureMaximumKeepAlive {
                keepAlive = limits.azureMaximumKeepAlive
                if version == .v5 { properties.serverKeepAlive = keepAlive }
            }
            if version == .v5 { properties.maximumQoS = 1 }
        }
        if version == .v5 {
            properties.receiveMaximum = limits.receiveMaximum
            properties.topicAliasMaximum = limits.topicAliasMaximum
            // total: the configured maximum packet size, at most 268,435,460.
            properties.maximumPacketSize = UInt32(limits.maximumPacketSize)
            properties.authenticationMethod = connect.properties.authenticationMethod
        }
        // total: widens a UInt32.
        let clientMaximumPacketSize = connect.properties.maximumPacketSize.map(Int.init) ?? .max
        // total: widens a UInt16.
        let receiveMaximum = version == .v5 ? Int(connect.properties.receiveMaximum ?? .max) : limits.maximumInflight
        let terms = Terms(
            version: version, clientID: clientID, cleanStart: connect.cleanStart, keepAlive: keepAlive,
            sessionExpiry: sessionExpiry, receiveMaximum: receiveMaximum,
            clientMaximumPacketSize: clientMaximumPacketSize,
            credentialDeadline: identity.expiry.map { credentialDeadline(expiry: $0, unixNow: unixNow, now: now) },
            authenticationMethod: connect.properties.authenticationMethod, connackProperties: properties)
        var buffer = ByteBuffer()
        let connack = MQTTPacket.connack(terms.connack(sessionPresent: false))
        let fits = try? MQTTEncoder.encode(
            connack, version: version, into: &buffer, maximumPacketSize: clientMaximumPacketSize)
        guard fits == true else { return .closeWithoutConnack }
        return .accept(terms)
    }

    /// When a credential expiring at `expiry` (Unix seconds) ends, on the monotonic clock. The device chose
    /// `expiry` (a SAS token's `se` is any `UInt64`), so nothing here may trap: the time left saturates, and
    /// `TimeAmount.seconds` and `NIODeadline.+` cap at the distant future.
    static func credentialDeadline(expiry: UInt64, unixNow: UInt64, now: NIODeadline) -> NIODeadline {
        let (left, isPast) = expiry.subtractingReportingOverflow(unixNow)
        return now + .seconds(isPast ? 0 : Int64(clamping: left))
    }
}
