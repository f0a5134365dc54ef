import Foundation
public import Logging
public import WardenCore

/// Everything `warden serve` can be told, validated once at start-up (STYLE R10).
public struct ServerConfiguration: Sendable {
    /// How log lines look.
    public enum LogFormat: String, Sendable, CaseIterable {
        /// One readable line per event, for a terminal.
        case text
        /// One JSON object per line, for collectors.
        case json
    }

    /// The oldest TLS version a listener accepts.
    public enum TLSMinimumVersion: String, Sendable, CaseIterable {
        case tls12 = "1.2"
        case tls13 = "1.3"
    }

    /// The HTTPS listener (management API now; device HTTPS, portal and MQTT over WebSocket later).
    public struct HTTPS: Sendable {
        /// The address to bind; loopback unless set otherwise.
        public var address: String = "127.0.0.1"
        /// The port; 0 picks a free one (tests).
        public var port: Int = 8443
    }

    /// Where the server's certificate comes from.
    public struct TLS: Sendable {
        /// The minimum protocol version.
        public var minimumVersion: TLSMinimumVersion = .tls12
        /// A PEM certificate chain to use instead of the development CA's certificate.
        public var certificatePath: String?
        /// The PEM private key for `certificatePath`.
        public var privateKeyPath: String?
    }

    /// The data directory: database, master key, TLS material, bootstrap credential.
    public var dataDirectory: String = "warden-data"
    /// The host name devices and clients use for the hub (connection strings, server certificate).
    public var hubHostName: HostName = .localhost
    /// The log level.
    public var logLevel: Logger.Level = .info
    /// The log format.
    public var logFormat: LogFormat = .text
    /// The HTTPS listener.
    public var https = HTTPS()
    /// TLS settings for every listener.
    public var tls = TLS()
    /// The master key from `WARDEN_MASTER_KEY`, if given; otherwise `DATA_DIR/master.key`.
    public var masterKeyOverride: SecretBytes?

    /// The defaults.
    public init() {}
}
