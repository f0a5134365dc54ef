import Foundation
import NIOSSL
import PostgresNIO
public import WardenCore

/// Where the PostgreSQL store is and how to reach it: a libpq-style URL,
/// `postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=verify-full&sslrootcert=/path/ca.pem`, and a pool size.
///
/// TLS is on and verified by default (`verify-full`: the server's certificate must chain to `sslrootcert`, or to
/// the system's roots without it, and name the host); `verify-ca` skips the name check; `disable` sends
/// everything in the clear and is accepted for a database on this machine (localhost) only.
/// libpq's `allow`, `prefer` and `require` are refused: they do not verify whom they talk to.
public struct PostgreSQLSettings: Sendable {
    public enum TLSMode: String, Sendable, CaseIterable {
        case verifyFull = "verify-full", verifyCA = "verify-ca", disable
    }

    public let host: String
    public let port: Int
    public let username: String
    public let password: SecretBytes?
    public let database: String
    public let tls: TLSMode
    public let rootCertificate: String?
    /// The most connections this node opens (one per concurrent transaction).
    public let poolSize: Int

    /// Parses `url`; `store.unusable`, naming what is wrong (never the password), when it cannot be used. A
    /// `password` given apart replaces one in the URL.
    public init(url: String, password: SecretBytes? = nil, poolSize: Int = 10) throws {
        func refuse(_ why: String) -> WardenError {
            WardenError(.storeUnusable, "store.url is not a usable PostgreSQL URL: \(why).")
        }
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme)
        else { throw refuse("it must look like postgres://user:password@host:5432/database") }
        guard let host = components.host, !host.isEmpty else { throw refuse("it names no host") }
        guard let username = components.user, !username.isEmpty else { throw refuse("it names no user") }
        if components.rangeOfPort != nil, !(1...65_535).contains(components.port ?? 0) {
            throw refuse("the port must be 1 to 65535")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else { throw refuse("it names no database") }
        guard (1...1_000).contains(poolSize) else { throw refuse("the pool size must be 1 to 1,000") }
        var mode = TLSMode.verifyFull
        var rootCertificate: String?
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let value = item.value, let parsed = TLSMode(rawValue: value) else {
                    throw refuse(
                        "sslmode must be one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", ")) "
                            + "(allow, prefer and require do not verify the server)")
                }
                mode = parsed
            case "sslrootcert":
                rootCertificate = item.value
            default:
                throw refuse("it has an unknown parameter '\(item.name)' (known: sslmode, sslrootcert)")
            }
        }
        if mode == .disable, !["localhost", "127.0.0.1", "::1", "[::1]"].contains(host) {
            throw refuse("sslmode=disable is for a database on this machine (localhost) only")
        }
        self.host = host
        self.port = components.port ?? 5432
        self.username = username
        self.password = password ?? components.password.map { SecretBytes(Array($0.utf8)) }
        self.database = database
        self.tls = mode
        self.rootCertificate = rootCertificate
        self.poolSize = poolSize
    }

    func clientConfiguration() throws -> PostgresClient.Configuration {
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: username,
            password: password.map { String(decoding: $0.bytes, as: UTF8.self) }, database: database, tls: .disable)
        if tls != .disable {
            var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
            tlsConfiguration.minimumTLSVersion = .tlsv12
            tlsConfiguration.certificateVerification = tls == .verifyFull ? .fullVerification : .noHostnameVerification
            if let rootCertificate {
                guard FileManager.default.isReadableFile(atPath: rootCertificate) else {
                    throw WardenError(.storeUnusable, "store.url's sslrootcert \(rootCertificate) cannot be read.")
                }
                tlsConfiguration.trustRoots = .file(rootCertificate)
            }
            configuration.tls = .require(tlsConfiguration)
        }
        configuration.options.maximumConnections = poolSize
        configuration.options.connectTimeout = .seconds(10)
        return configuration
    }
}
