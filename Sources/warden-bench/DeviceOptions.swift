import ArgumentParser
import Crypto
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import WardenCore
import WardenMQTT
import WardenSecurity

/// Where the broker is and how simulated devices authenticate: a SAS token each, signed with a shared access
/// policy that grants deviceConnect (so one key serves every device).
struct DeviceOptions: ParsableArguments {
    @Option(help: "Broker address.") var host = "127.0.0.1"
    @Option(help: "Broker port.") var port = 8883
    @Option(help: "PEM CA to trust; without it the connection is plain TCP.") var ca: String?
    @Option(help: "The hub host name devices sign for.") var hubHost = "localhost"
    @Option(help: "A shared access policy with deviceConnect that signs every device's token.") var policy: String?
    @Option(help: "That policy's key (base64).") var key: String?
    @Option(help: "Device ids are PREFIX0 … PREFIX(N-1).") var devicePrefix = "bench-"
    @Option(help: "Device connections (pubsub: publishers or subscribers per side).") var devices = 20
    @Flag(help: "Connect without credentials (a broker's anonymous listener) instead of as devices.")
    var anonymous = false
    @Option(help: "A username every client presents with --password (a broker's password file) instead of SAS.")
    var username: String?
    @Option(help: "The password for --username.") var password: String?
    @Option(help: "The MQTT version clients speak: 3.1.1 or 5.") var mqttVersion = MQTTVersionOption.v311
    @Option(
        help: "TLS key exchange groups to offer, comma-separated: x25519, x25519-mlkem768, p256 (default: BoringSSL's)."
    )
    var tlsGroups: String?
    @Option(help: "Spread connections over 127.0.0.1 … 127.0.0.N as source addresses (~28,000 ports each).")
    var sourceAddresses = 1

    /// Refuses contradictory or malformed options before any connection is tried (exit 64, with the reason).
    func validate() throws {
        guard (1...254).contains(sourceAddresses) else { throw ValidationError("--source-addresses is 1 to 254.") }
        guard devices > 0 else { throw ValidationError("--devices must be at least 1.") }
        if username != nil, password == nil { throw ValidationError("--username needs --password.") }
        if let policy {
            guard key.flatMap({ Data(base64Encoded: $0) }) != nil else {
                throw ValidationError("--policy needs --key, the policy's base64 key.")
            }
            _ = try PolicyName(policy)
        }
        if [anonymous, username != nil, policy != nil].filter({ $0 }).count > 1 {
            throw ValidationError("Choose one of --anonymous, --username or --policy.")
        }
        if let tlsGroups {
            guard ca != nil else { throw ValidationError("--tls-groups applies to TLS: give --ca.") }
            _ = try Self.curves(tlsGroups)
        }
    }

    func deviceID(_ index: Int) -> String { devicePrefix + String(index) }

    /// Connects device `index` with `handler` last in its pipeline (after TLS and packet framing).
    func connect(_ index: Int, _ handler: any ChannelHandler & Sendable) async throws -> any Channel {
        let tls = try tlsContext()
        let host = self.host
        let version = mqttVersion.protocolVersion
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        if sourceAddresses > 1 {
            bootstrap = bootstrap.bind(
                to: try SocketAddress(ipAddress: "127.0.0.\(1 + index % sourceAddresses)", port: 0))
        }
        return
            try await bootstrap
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: tls, serverHostname: host == "127.0.0.1" ? nil : host))
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(PacketDecoder(version: version)))
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .connect(host: host, port: port).get()
    }

    /// The CONNECT of device `index`: Azure's username and, with a policy, a SAS token for an hour; anonymous
    /// clients and password clients are `bench-{role}-{index}`, without credentials or with the shared pair.
    func connectPacket(_ index: Int, role: String = "") throws -> ConnectPacketFields {
        let version = mqttVersion.protocolVersion
        if anonymous {
            return ConnectPacketFields(
                clientID: "bench-\(role)-\(index)", username: nil, password: nil, version: version)
        }
        if let username, let password {
            return ConnectPacketFields(
                clientID: "bench-\(role)-\(index)", username: username, password: Array(password.utf8),
                version: version)
        }
        let deviceID = deviceID(index) + (role.isEmpty ? "" : "-" + role)
        var password: [UInt8]?
        if let policy {
            guard let bytes = key.flatMap({ Data(base64Encoded: $0) }) else {
                throw ValidationError("--policy needs --key, the policy's base64 key.")
            }
            let token = SASTokenSigner.token(
                resource: "\(hubHost)/devices/\(deviceID)", key: SymmetricKey(data: bytes),
                expiry: Date().unixSeconds + 3600, keyName: try PolicyName(policy))
            password = Array(token.utf8)
        }
        return ConnectPacketFields(
            clientID: deviceID, username: "\(hubHost)/\(deviceID)/?api-version=2021-04-12", password: password,
            version: version)
    }

    /// One context per CA file for the whole run: building one per connection (reading the PEM, setting up
    /// BoringSSL) would cost the load generator more than the handshake it measures.
    private func tlsContext() throws -> NIOSSLContext? {
        guard let ca else { return nil }
        return try Self.contexts.withLock { contexts in
            if let context = contexts[ca] { return context }
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(ca))
            if let tlsGroups { configuration.curves = try Self.curves(tlsGroups) }
            let context = try NIOSSLContext(configuration: configuration)
            contexts[ca] = context
            return context
        }
    }

    private static let contexts = Mutex<[String: NIOSSLContext]>([:])

    private static func curves(_ list: String) throws -> [NIOTLSCurve] {
        try list.split(separator: ",").map { name in
            switch name {
            case "x25519": .x25519
            case "x25519-mlkem768": .x25519_MLKEM768
            case "p256": .secp256r1
            default: throw ValidationError("--tls-groups: unknown group \(name).")
            }
        }
    }
}

/// What a simulated device puts in its CONNECT.
struct ConnectPacketFields: Sendable {
    let clientID: String
    let username: String?
    let password: [UInt8]?
    let version: ProtocolVersion
}
