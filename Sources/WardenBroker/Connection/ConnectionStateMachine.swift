import NIOCore
import WardenMQTT

/// The life of one MQTT connection as a pure state machine (STYLE R6.5): packets and clock ticks in,
/// actions out, no I/O. It owns what belongs to the connection rather than the session: the CONNECT
/// deadline and its negotiation, keep-alive, the credential's expiry, inbound topic aliases and the inbound
/// QoS 2 exchange. It holds the protocol version, once, for everything after CONNECT.
struct ConnectionStateMachine {
    /// Server-side settings for one listener.
    struct Settings: Sendable {
        /// CONNECT must arrive within this (issue 3: 10 s).
        var connectTimeout: TimeAmount = .seconds(10)
        /// What CONNECT negotiates within; its Receive Maximum and Topic Alias Maximum are enforced here.
        var limits = ConnectNegotiation.Limits()
    }

    /// How the connection ends.
    struct Close: Equatable {
        let reason: ReasonCode
        let reasonString: String?
        /// 5.0 only: the server says why with DISCONNECT before closing.
        let sendDisconnect: Bool
        /// Whether the Will is published (everything but a normal DISCONNECT, [MQTT-3.1.2-8]).
        let publishWill: Bool
    }

    enum Action: Equatable {
        case none
        /// CONNECT arrived: authenticate it, then call `authenticated` or `refused`.
        case authenticate(ConnectPacket)
        /// An application message with its topic resolved: authorize, route, acknowledge.
        case publish(PublishPacket)
        case send(MQTTPacket)
        /// A re-sent QoS 2 PUBLISH is answered again, in order behind the acknowledgements still waiting for their
        /// commit (the first PUBREC among them), so that it never says "received" before the message is durable.
        case acknowledgeAgain(PublishAckPacket)
        /// The client acknowledged a message the server sent.
        case acknowledged(PublishAckPacket)
        case subscribe(SubscribePacket)
        case unsubscribe(UnsubscribePacket)
        /// 5.0 AUTH with Reason 0x19 and the connection's method ([MQTT-4.12.1-1]).
        case reauthenticate(ReasonPacket)
        /// The client said DISCONNECT; `sessionExpiry` is a new value it asked for, if any.
        case clientDisconnected(publishWill: Bool, sessionExpiry: UInt32?)
        case close(Close)
    }

    private struct Connected {
        let version: ProtocolVersion
        /// 1.5 × the keep-alive in force; nil when keep-alive is off.
        let keepAliveLimit: TimeAmount?
        var lastActivity: NIODeadline
        var credentialDeadline: NIODeadline?
        let authenticationMethod: String?
        let sessionExpiryWasZero: Bool
        var aliases: [UInt16: String] = [:]
        var awaitingPubrel: Set<UInt16> = []
    }

    private enum State {
        case awaitingConnect(deadline: NIODeadline)
        case authenticating(ConnectPacket)
        /// A placeholder while `connected` changes, so that its tables are not copied on write.
        case changing
        case connected(Connected)
        case closed
    }

    let settings: Settings
    private var state: State

    init(settings: Settings, now: NIODeadline) {
        self.settings = settings
        self.state = .awaitingConnect(deadline: now + settings.connectTimeout)
    }

    /// The protocol version once CONNECT was accepted.
    var version: ProtocolVersion? {
        if case .connected(let connected) = state { return connected.version }
        return nil
    }

    /// The TLS handshake finished: the CONNECT deadline counts from here.
    mutating func handshakeCompleted(now: NIODeadline) {
        if case .awaitingConnect = state { state = .awaitingConnect(deadline: now + settings.connectTimeout) }
    }

    mutating func packetReceived(_ packet: MQTTPacket, now: NIODeadline) -> Action {
        switch state {
        case .awaitingConnect:
            guard case .connect(let connect) = packet else { return fail(.protocolError, "CONNECT must come first.") }
            state = .authenticating(connect)
            return .authenticate(connect)
        case .authenticating, .changing, .closed:
            return .none
        case .connected(var connected):
            state = .changing
            connected.lastActivity = now
            let action = handle(packet, &connected)
            switch action {
            case .close, .clientDisconnected: state = .closed
            default: state = .connected(connected)
            }
            return action
        }
    }

    /// The CONNECT authenticated as `identity`: negotiates the connection's terms (`ConnectNegotiation`).
    /// Accepted, the connection is up; refused or unable to carry a CONNACK, it is over.
    mutating func authenticated(
        as identity: ClientIdentity, willAllowed: Bool, unixNow: UInt64, now: NIODeadline,
        assignClientID: () -> String
    ) -> ConnectNegotiation.Outcome {
        guard case .authenticating(let connect) = state else { return .closeWithoutConnack }
        let outcome = ConnectNegotiation.negotiate(
            connect, identity: identity, willAllowed: willAllowed, limits: settings.limits, unixNow: unixNow,
            now: now, assignClientID: assignClientID)
        guard case .accept(let terms) = outcome else {
            state = .closed
            return outcome
        }
        // total: widens a UInt16; at most 98,302,500 ms.
        let keepAliveLimit: TimeAmount? = terms.keepAlive == 0 ? nil : .milliseconds(Int64(terms.keepAlive) * 1500)
        state = .connected(
            Connected(
                version: terms.version, keepAliveLimit: keepAliveLimit, lastActivity: now,
                credentialDeadline: terms.credentialDeadline, authenticationMethod: terms.authenticationMethod,
                sessionExpiryWasZero: terms.sessionExpiry == 0))
        return outcome
    }

    /// The connection waited, not reading, for its session to move here: its keep-alive counts from `now`.
    mutating func resumed(now: NIODeadline) {
        guard case .connected(var connected) = state else { return }
        connected.lastActivity = now
        state = .connected(connected)
    }

    /// CONNECT was refused (before negotiation, or by a limit after it); CONNACK goes out and the connection
    /// closes.
    mutating func refused() {
        state = .closed
    }

    /// Re-authentication succeeded with a credential valid until `deadline`.
    mutating func reauthenticated(credentialDeadline: NIODeadline?) {
        guard case .connected(var connected) = state else { return }
        connected.credentialDeadline = credentialDeadline
        state = .connected(connected)
    }

    /// The connection is gone or going; nothing more is processed.
    mutating func closed() {
        state = .closed
    }

    /// Whether the connection is over: the bytes still buffered are not read.
    var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    /// The earliest moment `tick` has something to check.
    var nextDeadline: NIODeadline? {
        switch state {
        case .awaitingConnect(let deadline): return deadline
        case .authenticating, .changing, .closed: return nil
        case .connected(let connected):
            let keepAlive = connected.keepAliveLimit.map { connected.lastActivity + $0 }
            return [keepAlive, connected.credentialDeadline].compactMap { $0 }.min()
        }
    }

    /// Checks the deadlines at `now`.
    mutating func tick(now: NIODeadline) -> Action {
        switch state {
        case .awaitingConnect(let deadline) where now >= deadline:
            state = .closed
            return .close(
                Close(reason: .maximumConnectTime, reasonString: nil, sendDisconnect: false, publishWill: false))
        case .connected(let connected):
            if let deadline = connected.credentialDeadline, now >= deadline {
                return fail(.notAuthorized, "The credential expired.")
            }
            // [MQTT-3.1.2-24]: nothing received for one and a half keep-alive periods.
            if let limit = connected.keepAliveLimit, now - connected.lastActivity >= limit {
                return fail(.keepAliveTimeout, "Keep-alive expired.")
            }
            return .none
        default:
            return .none
        }
    }

    /// The decoder refused the byte stream: 5.0 clients hear why ([MQTT-4.13.1-1]), then the connection closes.
    mutating func decodingFailed(_ error: MQTTDecodingError) -> Action {
        switch error.kind {
        case .malformed: fail(.malformedPacket, "Malformed packet: \(error.rule).")
        case .protocolError: fail(.protocolError, "Protocol error: \(error.rule).")
        case .packetTooLarge: fail(.packetTooLarge, "Packet larger than \(error.limit ?? 0) bytes.")
        case .unsupportedProtocolVersion: fail(.unsupportedProtocolVersion, nil)
        }
    }

    /// Closes with `reason`; a 5.0 connection is told with DISCONNECT first.
    mutating func fail(_ reason: ReasonCode, _ reasonString: String?) -> Action {
        let action = Self.closing(version, reason, reasonString)
        state = .closed
        return action
    }

    private static func closing(_ version: ProtocolVersion?, _ reason: ReasonCode, _ reasonString: String?) -> Action {
        .close(Close(reason: reason, reasonString: reasonString, sendDisconnect: version == .v5, publishWill: true))
    }

    private func handle(_ packet: MQTTPacket, _ connected: inout Connected) -> Action {
        switch packet {
        case .publish(let publish):
            return inboundPublish(publish, &connected)
        case .publishAck(let ack) where ack.kind == .pubrel:
            // 5.0 §3.7.2.1: an unknown id is answered with 0x92; 3.1.1 simply completes.
            let known = connected.awaitingPubrel.remove(ack.packetID) != nil
            let reason: ReasonCode = known || connected.version == .v311 ? .success : .packetIdentifierNotFound
            return .send(.publishAck(PublishAckPacket(.pubcomp, packetID: ack.packetID, reasonCode: reason)))
        case .publishAck(let ack):
            return .acknowledged(ack)
        case .subscribe(let subscribe):
            return .subscribe(subscribe)
        case .unsubscribe(let unsubscribe):
            return .unsubscribe(unsubscribe)
        case .pingreq:
            return .send(.pingresp)
        case .disconnect(let disconnect):
            // [MQTT-3.14.2-2]: a session expiry of 0 at CONNECT cannot be raised at DISCONNECT.
            if let expiry = disconnect.properties.sessionExpiryInterval, expiry > 0, connected.sessionExpiryWasZero {
                return Self.closing(
                    connected.version, .protocolError,
                    "Session Expiry Interval cannot be set at DISCONNECT after 0 at CONNECT.")
            }
            return .clientDisconnected(
                publishWill: disconnect.reasonCode == .disconnectWithWillMessage,
                sessionExpiry: disconnect.properties.sessionExpiryInterval)
        case .auth(let auth):
            guard let method = connected.authenticationMethod, auth.properties.authenticationMethod == method,
                auth.reasonCode == .reAuthenticate
            else {
                return Self.closing(
                    connected.version, .protocolError, "AUTH needs Reason 0x19 and the method given at CONNECT.")
            }
            return .reauthenticate(auth)
        case .connect:
            return Self.closing(connected.version, .protocolError, "A second CONNECT.")  // [MQTT-3.1.0-2]
        case .connack, .suback, .unsuback, .pingresp:
            return Self.closing(connected.version, .protocolError, "A server-only packet from the client.")
        }
    }

    private func inboundPublish(_ publish: PublishPacket, _ connected: inout Connected) -> Action {
        var publish = publish
        if let alias = publish.properties.topicAlias {
            // 5.0 [MQTT-3.3.2-8], [MQTT-3.3.2-9]: 0 and values above our maximum are errors.
            guard alias != 0, alias <= settings.limits.topicAliasMaximum else {
                return Self.closing(
                    connected.version, .topicAliasInvalid,
                    "Topic Alias \(alias) is outside 1…\(settings.limits.topicAliasMaximum).")
            }
            if publish.topic.isEmpty {
                guard let topic = connected.aliases[alias] else {
                    return Self.closing(connected.version, .protocolError, "Topic Alias \(alias) was never set.")
                }
                publish.topic = topic
            } else {
                connected.aliases[alias] = publish.topic
            }
            publish.properties.topicAlias = nil
        }
        guard publish.qos == .exactlyOnce, let packetID = publish.packetID else { return .publish(publish) }
        // A re-sent QoS 2 PUBLISH before PUBREL is answered again, not routed twice ([MQTT-4.3.3-10]).
        if connected.awaitingPubrel.contains(packetID) {
            return .acknowledgeAgain(PublishAckPacket(.pubrec, packetID: packetID))
        }
        // total: widens a UInt16.
        guard connected.awaitingPubrel.count < Int(settings.limits.receiveMaximum) else {
            return Self.closing(
                connected.version, .receiveMaximumExceeded,
                "More than \(settings.limits.receiveMaximum) QoS 2 messages in flight.")
        }
        connected.awaitingPubrel.insert(packetID)
        return .publish(publish)
    }

    /// A QoS 2 message whose routing was refused is not held for PUBREL.
    mutating func inboundRefused(packetID: UInt16) {
        guard case .connected(var connected) = state else { return }
        connected.awaitingPubrel.remove(packetID)
        state = .connected(connected)
    }
}
