import NIOCore
import Testing
import WardenAuthentication
import WardenCore

@testable import WardenBroker
@testable import WardenMQTT

/// CONNECT negotiation without a channel: every rule that shapes a CONNACK.
struct ConnectNegotiationTests {
    let now = NIODeadline.uptimeNanoseconds(1_000_000_000)
    let anonymous = ClientIdentity.anonymous(.defaultTenant, .publishSubscribe)

    private func device(expiry: UInt64? = nil) throws -> ClientIdentity {
        .device(
            DeviceIdentity(
                tenantID: .defaultTenant, deviceID: try DeviceID("dev-1"), method: .sas, expiry: expiry))
    }

    private func connect(
        _ version: ProtocolVersion = .v5, clientID: String = "c", cleanStart: Bool = true, keepAlive: UInt16 = 60,
        properties: Properties = Properties()
    ) -> ConnectPacket {
        ConnectPacket(
            protocolVersion: version, cleanStart: cleanStart, keepAlive: keepAlive, clientID: clientID,
            properties: properties)
    }

    private func negotiate(
        _ connect: ConnectPacket, as identity: ClientIdentity? = nil, willAllowed: Bool = true,
        limits: ConnectNegotiation.Limits = .init(), unixNow: UInt64 = 1_000
    ) -> ConnectNegotiation.Outcome {
        ConnectNegotiation.negotiate(
            connect, identity: identity ?? anonymous, willAllowed: willAllowed, limits: limits, unixNow: unixNow,
            now: now, assignClientID: { "assigned" })
    }

    private func terms(_ outcome: ConnectNegotiation.Outcome) -> ConnectNegotiation.Terms? {
        if case .accept(let terms) = outcome { return terms }
        Issue.record("not accepted: \(outcome)")
        return nil
    }

    @Test func everyRefusalHasOneCodePerVersion() {
        let table: [(ConnectRefusal, UInt8, UInt8)] = [
            (.badCredentials, 4, 0x86), (.notAuthorized, 5, 0x87), (.badAuthenticationMethod, 4, 0x8C),
            (.clientIdentifierNotValid, 2, 0x85), (.serverBusy, 3, 0x97),
        ]
        for (refusal, v311, v5) in table {
            #expect(refusal.code(.v311).rawValue == v311)
            #expect(refusal.code(.v5).rawValue == v5)
            #expect(refusal.connack(.v5) == ConnAckPacket(sessionPresent: false, reasonCode: refusal.code(.v5)))
        }
    }

    @Test func aClientWithoutAnIDGetsOneUnlessItIsADeviceOrA311PersistentSession() throws {
        let assigned = terms(negotiate(connect(clientID: "", cleanStart: false)))
        #expect(assigned?.clientID == "assigned")
        #expect(assigned?.connackProperties.assignedClientIdentifier == "assigned")
        #expect(terms(negotiate(connect(.v311, clientID: "")))?.connackProperties.assignedClientIdentifier == nil)
        #expect(negotiate(connect(.v311, clientID: "", cleanStart: false)) == .refuse(.clientIdentifierNotValid))
        #expect(negotiate(connect(clientID: ""), as: try device()) == .refuse(.clientIdentifierNotValid))
    }

    @Test func aWillTheClientMayNotPublishRefusesTheConnection() {
        #expect(negotiate(connect(), willAllowed: false) == .refuse(.notAuthorized))
    }

    @Test func sessionExpiryIsCappedAndTheClientToldOn5() {
        var properties = Properties()
        properties.sessionExpiryInterval = 100_000
        let limits = ConnectNegotiation.Limits(maximumSessionExpiry: 3_600)
        let capped = terms(negotiate(connect(properties: properties), limits: limits))
        #expect(capped?.sessionExpiry == 3_600)
        #expect(capped?.connackProperties.sessionExpiryInterval == 3_600)
        // 3.1.1: clean session 0 is "forever", held to the same cap; clean session 1 ends with the connection.
        #expect(terms(negotiate(connect(.v311, cleanStart: false), limits: limits))?.sessionExpiry == 3_600)
        #expect(terms(negotiate(connect(.v311), limits: limits))?.sessionExpiry == 0)
        #expect(terms(negotiate(connect(), limits: limits))?.connackProperties.sessionExpiryInterval == nil)
    }

    @Test func keepAliveIsCappedOn5AndForAzureDevicesOnBothVersions() throws {
        let limits = ConnectNegotiation.Limits(maximumKeepAlive: 300, azureMaximumKeepAlive: 1177)
        let forever = terms(negotiate(connect(keepAlive: 0), limits: limits))
        #expect(forever?.keepAlive == 300)
        #expect(forever?.connackProperties.serverKeepAlive == 300)
        #expect(terms(negotiate(connect(.v311, keepAlive: 0), limits: limits))?.keepAlive == 0)
        let azure = terms(negotiate(connect(.v311, clientID: "dev-1", keepAlive: 0), as: try device()))
        #expect(azure?.keepAlive == 1177)
        let azure5 = terms(negotiate(connect(clientID: "dev-1", keepAlive: 2000), as: try device()))
        #expect(azure5?.keepAlive == 1177)
        #expect(azure5?.connackProperties.serverKeepAlive == 1177)
        #expect(azure5?.connackProperties.maximumQoS == 1)
    }

    @Test func the5ConnackStatesTheServersLimitsAndEchoesTheAuthenticationMethod() {
        var properties = Properties()
        properties.authenticationMethod = "SAS"
        properties.receiveMaximum = 5
        let limits = ConnectNegotiation.Limits(receiveMaximum: 7, topicAliasMaximum: 3, maximumPacketSize: 4096)
        let accepted = terms(negotiate(connect(properties: properties), limits: limits))
        #expect(accepted?.connackProperties.receiveMaximum == 7)
        #expect(accepted?.connackProperties.topicAliasMaximum == 3)
        #expect(accepted?.connackProperties.maximumPacketSize == 4096)
        #expect(accepted?.connackProperties.authenticationMethod == "SAS")
        #expect(accepted?.authenticationMethod == "SAS")
        #expect(accepted?.receiveMaximum == 5)
        #expect(terms(negotiate(connect(.v311), limits: .init(maximumInflight: 42)))?.receiveMaximum == 42)
        #expect(terms(negotiate(connect(.v311)))?.connack(sessionPresent: true).properties == Properties())
    }

    @Test func aConnackLargerThanTheClientAcceptsClosesWithoutOne() {
        // mosquitto's 12-prop-maximum-packet-size-connect: Maximum Packet Size 2 cannot hold any CONNACK.
        var properties = Properties()
        properties.maximumPacketSize = 2
        #expect(negotiate(connect(properties: properties)) == .closeWithoutConnack)
        properties.maximumPacketSize = 64
        #expect(terms(negotiate(connect(properties: properties)))?.clientMaximumPacketSize == 64)
    }

    @Test func aCredentialsExpiryPlacesTheDeadlineWithoutTrappingWhateverTheDeviceChose() throws {
        let soon = terms(negotiate(connect(clientID: "dev-1"), as: try device(expiry: 1_030)))
        #expect(soon?.credentialDeadline == now + .seconds(30))
        let past = terms(negotiate(connect(clientID: "dev-1"), as: try device(expiry: 10)))
        #expect(past?.credentialDeadline == now)
        let far = terms(negotiate(connect(clientID: "dev-1"), as: try device(expiry: .max)))
        #expect(far?.credentialDeadline.map { $0 > now + .hours(1_000_000) } == true)
        #expect(terms(negotiate(connect()))?.credentialDeadline == nil)
    }
}
