import NIOCore
import Testing
import WardenCore

@testable import WardenBroker
@testable import WardenMQTT

/// The connection lifecycle without sockets (STYLE R6.5).
struct ConnectionStateMachineTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
    let settings = ConnectionStateMachine.Settings(
        connectTimeout: .seconds(10), limits: .init(receiveMaximum: 2, topicAliasMaximum: 4))

    private func connected(_ version: ProtocolVersion = .v5, keepAlive: UInt16 = 60) -> ConnectionStateMachine {
        var machine = ConnectionStateMachine(settings: settings, now: start)
        let connect = ConnectPacket(protocolVersion: version, cleanStart: true, keepAlive: keepAlive, clientID: "c")
        #expect(machine.packetReceived(.connect(connect), now: start) == .authenticate(connect))
        _ = machine.authenticated(
            as: .anonymous(.defaultTenant, .publishSubscribe), willAllowed: true, unixNow: 0, now: start,
            assignClientID: { "assigned" })
        return machine
    }

    private func publish(_ topic: String, qos: QoS = .atMostOnce, id: UInt16? = nil, alias: UInt16? = nil)
        -> PublishPacket
    {
        var properties = Properties()
        properties.topicAlias = alias
        return PublishPacket(qos: qos, topic: topic, packetID: id, properties: properties, payload: ByteBuffer())
    }

    @Test func connectMustArriveBeforeTheDeadline() {
        var machine = ConnectionStateMachine(settings: settings, now: start)
        #expect(machine.nextDeadline == start + .seconds(10))
        #expect(machine.tick(now: start + .seconds(9)) == .none)
        guard case .close(let close) = machine.tick(now: start + .seconds(10)) else {
            Issue.record("no close")
            return
        }
        #expect(close.reason == .maximumConnectTime)
        #expect(!close.sendDisconnect)
    }

    @Test func handshakeRestartsTheConnectDeadline() {
        var machine = ConnectionStateMachine(settings: settings, now: start)
        machine.handshakeCompleted(now: start + .seconds(5))
        #expect(machine.tick(now: start + .seconds(12)) == .none)
    }

    @Test func keepAliveClosesAfterOneAndAHalfPeriods() {
        var machine = connected(keepAlive: 10)
        #expect(machine.nextDeadline == start + .seconds(15))
        #expect(machine.tick(now: start + .seconds(14)) == .none)
        _ = machine.packetReceived(.pingreq, now: start + .seconds(14))
        #expect(machine.tick(now: start + .seconds(20)) == .none)
        guard case .close(let close) = machine.tick(now: start + .seconds(29)) else {
            Issue.record("no close")
            return
        }
        #expect(close.reason == .keepAliveTimeout)
        #expect(close.sendDisconnect)
        #expect(close.publishWill)
    }

    @Test func credentialExpiryCloses() {
        var machine = connected(keepAlive: 0)
        machine.reauthenticated(credentialDeadline: start + .seconds(30))
        #expect(machine.nextDeadline == start + .seconds(30))
        guard case .close(let close) = machine.tick(now: start + .seconds(30)) else {
            Issue.record("no close")
            return
        }
        #expect(close.reason == .notAuthorized)
    }

    @Test func pingIsAnswered() {
        var machine = connected()
        #expect(machine.packetReceived(.pingreq, now: start) == .send(.pingresp))
    }

    @Test func secondConnectIsAProtocolError() {
        var machine = connected()
        let connect = ConnectPacket(protocolVersion: .v5, cleanStart: true, keepAlive: 0, clientID: "c")
        guard case .close(let close) = machine.packetReceived(.connect(connect), now: start) else {
            Issue.record("no close")
            return
        }
        #expect(close.reason == .protocolError)
    }

    @Test func topicAliasesAreSetAndResolved() {
        var machine = connected()
        #expect(machine.packetReceived(.publish(publish("a/b", alias: 1)), now: start) == .publish(publish("a/b")))
        #expect(machine.packetReceived(.publish(publish("", alias: 1)), now: start) == .publish(publish("a/b")))
    }

    @Test(arguments: [UInt16(0), 5])
    func topicAliasOutsideTheMaximumCloses(alias: UInt16) {
        var machine = connected()
        guard case .close(let close) = machine.packetReceived(.publish(publish("a", alias: alias)), now: start) else {
            Issue.record("no close")
            return
        }
        #expect(close.reason == .topicAliasInvalid)
    }

    @Test func unknownTopicAliasIsAProtocolError() {
        var machine = connected()
        guard case .close(let close) = machine.packetReceived(.publish(publish("", alias: 2)), now: start) else {
            Issue.record("no close")
            return
        }
        #expect(close.reason == .protocolError)
    }

    @Test func qos2DuplicateIsAnsweredNotRoutedTwice() {
        var machine = connected()
        let message = publish("t", qos: .exactlyOnce, id: 7)
        #expect(machine.packetReceived(.publish(message), now: start) == .publish(message))
        #expect(
            machine.packetReceived(.publish(message), now: start)
                == .acknowledgeAgain(PublishAckPacket(.pubrec, packetID: 7)))
        #expect(
            machine.packetReceived(.publishAck(PublishAckPacket(.pubrel, packetID: 7)), now: start)
                == .send(.publishAck(PublishAckPacket(.pubcomp, packetID: 7))))
        #expect(machine.packetReceived(.publish(message), now: start) == .publish(message))
    }

    @Test func unknownPubrelGets0x92OnV5() {
        var machine = connected()
        #expect(
            machine.packetReceived(.publishAck(PublishAckPacket(.pubrel, packetID: 9)), now: start)
                == .send(.publishAck(PublishAckPacket(.pubcomp, packetID: 9, reasonCode: .packetIdentifierNotFound))))
    }

    @Test func receiveMaximumIsEnforced() {
        var machine = connected()
        _ = machine.packetReceived(.publish(publish("t", qos: .exactlyOnce, id: 1)), now: start)
        _ = machine.packetReceived(.publish(publish("t", qos: .exactlyOnce, id: 2)), now: start)
        guard
            case .close(let close) = machine.packetReceived(
                .publish(publish("t", qos: .exactlyOnce, id: 3)), now: start)
        else {
            Issue.record("no close")
            return
        }
        #expect(close.reason == .receiveMaximumExceeded)
    }

    @Test func normalDisconnectDropsTheWillAnd0x04KeepsIt() {
        var machine = connected()
        #expect(
            machine.packetReceived(.disconnect(ReasonPacket()), now: start)
                == .clientDisconnected(publishWill: false, sessionExpiry: nil))
        var other = connected()
        #expect(
            other.packetReceived(.disconnect(ReasonPacket(reasonCode: .disconnectWithWillMessage)), now: start)
                == .clientDisconnected(publishWill: true, sessionExpiry: nil))
    }

    @Test func sessionExpiryCannotBeRaisedFromZeroAtDisconnect() {
        var machine = connected()
        var properties = Properties()
        properties.sessionExpiryInterval = 60
        guard
            case .close(let close) = machine.packetReceived(
                .disconnect(ReasonPacket(properties: properties)), now: start)
        else {
            Issue.record("no close")
            return
        }
        #expect(close.reason == .protocolError)
    }

    @Test func authWithoutAMethodAtConnectIsAProtocolError() {
        var machine = connected()
        var properties = Properties()
        properties.authenticationMethod = "SAS"
        guard
            case .close(let close) = machine.packetReceived(
                .auth(ReasonPacket(reasonCode: .reAuthenticate, properties: properties)), now: start)
        else {
            Issue.record("no close")
            return
        }
        #expect(close.reason == .protocolError)
    }

    @Test func decodingErrorsMapToReasonCodes() {
        var machine = connected()
        guard case .close(let close) = machine.decodingFailed(MQTTDecodingError(.malformed, "x")) else {
            Issue.record("no close")
            return
        }
        #expect(close.reason == .malformedPacket)
        #expect(close.sendDisconnect)
        var old = connected(.v311)
        guard case .close(let quiet) = old.decodingFailed(MQTTDecodingError(.protocolError, "y")) else {
            Issue.record("no close")
            return
        }
        #expect(!quiet.sendDisconnect)
    }

    @Test func nothingIsProcessedAfterClose() {
        var machine = connected()
        _ = machine.packetReceived(.disconnect(ReasonPacket()), now: start)
        #expect(machine.packetReceived(.pingreq, now: start) == .none)
    }
}
