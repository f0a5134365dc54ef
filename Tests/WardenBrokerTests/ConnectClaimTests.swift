import Crypto
import Foundation
import Testing
import WardenAuthentication
import WardenCore
import WardenMQTT
import WardenRegistry
import WardenSecurity
import WardenStore

@testable import WardenBroker

/// CONNECT authentication (`ConnectClaim` on `DeviceAuthenticator`) against a real registry (temporary SQLite)
/// and its directory.
struct ConnectClaimTests {
    let registry: RegistryService
    let directory: DeviceDirectory
    let authenticator: DeviceAuthenticator
    let key: SASKeyPair
    let now = UInt64(Date().timeIntervalSince1970)

    init() async throws {
        let fixture = try await DeviceRegistryFixture()
        registry = fixture.registry
        directory = fixture.directory
        key = fixture.key
        authenticator = DeviceAuthenticator(directory: directory)
    }

    private func connect(
        clientID: String = "dev-1", username: String? = "hub.example/dev-1/?api-version=2021-04-12",
        token: String? = nil,
        version: ProtocolVersion = .v311
    ) -> ConnectPacket {
        let password =
            token
            ?? SASTokenSigner.token(
                resource: "hub.example/devices/dev-1", key: SymmetricKey(data: key.primary.bytes), expiry: now + 3600)
        return ConnectPacket(
            protocolVersion: version, cleanStart: false, keepAlive: 60, clientID: clientID, username: username,
            password: Array(password.utf8))
    }

    /// What the connection shows besides the CONNECT.
    struct Facts {
        let address: IPAddress
        let thumbprints: [Thumbprint]
    }

    private func facts(_ address: String = "127.0.0.1", thumbprints: [Thumbprint] = []) throws -> Facts {
        Facts(address: try #require(IPAddress(address)), thumbprints: thumbprints)
    }

    /// The device `packet` proves on a connection with `facts`.
    private func authenticate(_ packet: ConnectPacket, _ facts: Facts) throws(AuthenticationRefusal) -> DeviceIdentity {
        let claim = ConnectClaim(
            username: packet.username, clientID: packet.clientID, token: packet.password,
            certificate: facts.thumbprints.isEmpty ? nil : .init(thumbprints: facts.thumbprints, chain: nil),
            peerAddress: facts.address, now: now)
        guard case .device(let device) = try claim.authenticate(with: authenticator, clientID: packet.clientID) else {
            throw AuthenticationRefusal(
                reason: WardenError(.internalError, "Not a device."), isCredentialFailure: false)
        }
        return device
    }

    @Test(arguments: [
        "hub.example/dev-1/?api-version=2021-04-12",
        "hub.example/dev-1/?api-version=2019-10-01&DeviceClientType=azure-iot-device-iothub-py%2F2.14.0",
        "HUB.example/dev-1/api-version=2016-11-14", "hub.example/dev-1", "hub.example/dev-1/",
    ])
    func acceptsEveryUsernameForm(_ username: String) throws {
        let identity = try authenticate(connect(username: username), try facts())
        #expect(identity.deviceID.rawValue == "dev-1" && identity.method == .sas && identity.expiry == now + 3600)
    }

    @Test func wrongKeyUnknownDeviceAndUnknownHostGetTheSameAnswer() {
        let wrongKey = SASTokenSigner.token(
            resource: "hub.example/devices/dev-1", key: SymmetricKey(size: .bits256), expiry: now + 60)
        let ghostToken = SASTokenSigner.token(
            resource: "hub.example/devices/ghost", key: SymmetricKey(size: .bits256), expiry: now + 60)
        let cases = [
            connect(token: wrongKey),
            connect(clientID: "ghost", username: "hub.example/ghost/?api-version=1", token: ghostToken),
            connect(username: "other.example/dev-1/?api-version=1"),
            connect(username: "nonsense"),
            connect(username: nil),
            connect(token: "not a token"),
            connect(
                token: SASTokenSigner.token(
                    resource: "hub.example/devices/dev-1", key: SymmetricKey(data: key.primary.bytes), expiry: now - 1)),
        ]
        for packet in cases {
            for version in ProtocolVersion.allCases {
                var versioned = packet
                versioned.protocolVersion = version
                #expect {
                    try authenticate(versioned, try facts())
                } throws: { error in
                    guard let refusal = error as? AuthenticationRefusal else { return false }
                    return refusal.isCredentialFailure
                        && ConnectRefusal(refusal).code(version).rawValue == (version == .v311 ? 4 : 0x86)
                }
            }
        }
    }

    @Test func clientIDMustBeTheDevice() {
        for clientID in ["dev-2", "+", "#", ""] {
            #expect {
                try authenticate(connect(clientID: clientID), try facts())
            } throws: { ($0 as? AuthenticationRefusal).map { ConnectRefusal($0).code(.v5) } == .notAuthorized }
        }
    }

    @Test func disabledBlockedAndFilteredDevicesAreNotAuthorized() async throws {
        let id = try DeviceID("dev-1")
        _ = try await registry.updateDevice(.defaultTenant, id, .init(status: .disabled), ifMatch: nil)
        #expect(throws: AuthenticationRefusal.self) { try authenticate(connect(), try facts()) }
        _ = try await registry.updateDevice(.defaultTenant, id, .init(status: .enabled), ifMatch: nil)
        _ = try authenticate(connect(), try facts())

        _ = try await registry.replaceAccessList(
            .defaultTenant, allow: .init(), block: .init(devices: [id]), ifMatch: nil)
        #expect {
            try authenticate(connect(), try facts())
        } throws: { ($0 as? AuthenticationRefusal).map { ConnectRefusal($0).code(.v311).rawValue } == 5 }
        _ = try await registry.replaceAccessList(.defaultTenant, allow: .init(), block: .init(), ifMatch: nil)

        _ = try await registry.replaceIPFilter(
            .defaultTenant, defaultAction: .accept,
            rules: [.init(name: "lab", action: .reject, cidr: try CIDR("10.0.0.0/8"))], ifMatch: nil)
        #expect {
            try authenticate(connect(), try facts("10.1.2.3"))
        } throws: { ($0 as? AuthenticationRefusal)?.reason.reason.contains("'lab'") == true }
        _ = try authenticate(connect(), try facts("192.0.2.1"))
    }

    @Test func rotatedKeyStopsOldTokens() async throws {
        let packet = connect()
        _ = try authenticate(packet, try facts())
        _ = try await registry.rotateKeys(.defaultTenant, try DeviceID("dev-1"), .primary, ifMatch: nil)
        #expect(throws: AuthenticationRefusal.self) { try authenticate(packet, try facts()) }
    }

    @Test func certificateThumbprintsAuthenticateWithoutPassword() async throws {
        let primary = try Thumbprint(String(repeating: "AB", count: 32))
        _ = try await registry.createDevice(
            .defaultTenant,
            .init(id: try DeviceID("cam"), authenticationType: .x509Thumbprint, primaryThumbprint: primary))
        var packet = connect(clientID: "cam", username: "hub.example/cam/?api-version=1")
        packet.password = nil
        let identity = try authenticate(packet, try facts(thumbprints: [primary]))
        #expect(identity.method == .x509Thumbprint && identity.expiry == nil)
        #expect(throws: AuthenticationRefusal.self) {
            try authenticate(
                packet, try facts(thumbprints: [try Thumbprint(String(repeating: "CD", count: 32))]))
        }
        #expect(throws: AuthenticationRefusal.self) { try authenticate(packet, try facts()) }
    }
}
