import Foundation
public import Logging
public import WardenAccess
public import WardenBroker
public import WardenCore
public import WardenHub

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
        /// Seconds from accept, through the TLS handshake, to the first request's complete head.
        public var firstRequestTimeout = 10
        /// Seconds a connection may stay silent between requests, or between parts of one.
        public var idleTimeout = 60
        /// Seconds from a request's head to its last body byte.
        public var requestTimeout = 60
        /// Bytes of the request line and header fields together.
        public var maximumHeaderBytes = 32 * 1024
        /// Connections still before their first request, per source address and in total.
        public var maximumPendingPerIP = 64
        public var maximumPending = 4096
    }

    /// Where the server's certificate comes from.
    public struct TLS: Sendable {
        /// The minimum protocol version.
        public var minimumVersion: TLSMinimumVersion = .tls12
        /// A PEM certificate chain to use instead of the development CA's certificate.
        public var certificatePath: String?
        /// The PEM private key for `certificatePath`.
        public var privateKeyPath: String?
        /// Seconds between looks at the development server certificate's expiry (it is re-issued with less than
        /// 30 days left, without dropping connections).
        public var renewalCheck = 43_200
    }

    /// The MQTT listeners and the broker's limits.
    public struct MQTT: Sendable {
        /// A plain (no TLS) listener: off unless configured, loopback unless explicitly allowed.
        public struct Plain: Sendable {
            public var enabled = false
            public var address = "127.0.0.1"
            public var port = 1883
            /// What clients without credentials may do; nil refuses them. Loopback binds only.
            public var anonymous: AnonymousAccess?
            /// Allows binding the plain listener to a non-loopback address.
            public var allowNonLoopback = false
        }

        /// The TLS listener's address and port.
        public var address = "127.0.0.1"
        public var port = 8883
        public var plain = Plain()
        /// Session, queue, subscription, retained and connection limits.
        public var broker = Broker.Configuration()
        /// The largest packet accepted, fixed header included.
        public var maximumPacketSize = 256 * 1024 + 512
        /// The most levels of a topic name or filter.
        public var maximumTopicLevels = 201
        /// A cap on 5.0 keep-alive (Server Keep Alive); nil for none.
        public var maximumKeepAlive: UInt16?
        /// The keep-alive cap of Azure-dialect devices, seconds.
        public var azureMaximumKeepAlive: UInt16 = 1177
        /// Inbound QoS 2 messages awaiting PUBREL per connection.
        public var receiveMaximum: UInt16 = 100
        /// Inbound topic aliases per connection.
        public var topicAliasMaximum: UInt16 = 16
        /// Seconds from TLS handshake to CONNECT.
        public var connectTimeout = 10
        /// Connection attempts per second and burst per source address.
        public var connectRate = ConnectRateLimiter.Configuration()
        /// Connections not yet authenticated (TLS handshake or CONNECT outstanding) from one address, and in all.
        public var maximumPendingPerIP = 64
        public var maximumPending = 4096
        /// Seconds between `$SYS/broker/…` updates; 0 turns them off.
        public var systemTopicsInterval = 10
        /// On 3.1.1, close (true) or silently drop (false) on a denied PUBLISH.
        public var closeOnDeniedPublish = true
    }

    /// The AMQPS device endpoint (`amqp.*`).
    public struct AMQP: Sendable {
        public var enabled = true
        public var address = "127.0.0.1"
        public var port = 5671
        /// Messages a device may have sent on a link and not yet had acknowledged.
        public var linkCredit = 100
        /// The largest message, its transfers joined.
        public var maximumMessageSize = 256 * 1024
        /// Devices one connection may carry (the C SDK multiplexes them).
        public var maximumDevicesPerConnection = 64
        /// AMQP connections at once.
        public var maximumConnections = 100_000
        /// Seconds from accept to the first device's authentication.
        public var authenticationTimeout = 10
        /// Seconds a connection may send nothing before it is closed (announced as `idle-time-out`).
        public var idleTimeout = 240
    }

    /// The hub's device-to-cloud messages.
    public struct Telemetry: Sendable {
        /// Days stored telemetry is kept.
        public var retentionDays = 7
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
    /// MQTT listeners and broker limits.
    public var mqtt = MQTT()
    /// The AMQPS device endpoint.
    public var amqp = AMQP()
    /// TLS settings for every listener.
    public var tls = TLS()
    /// Telemetry storage.
    public var telemetry = Telemetry()

    /// The audit log.
    public struct Audit: Sendable {
        /// Days audit records are kept (`audit.retention-days`).
        public var retentionDays = 365
        /// Records waiting for the writer before new device records are dropped and counted
        /// (`audit.buffer-limit`); admin actions are never dropped.
        public var bufferLimit = 100_000
    }

    public var audit = Audit()

    /// Tenants' authorization policies.
    public struct Policy: Sendable {
        /// Versions of each tenant's document kept for rollback and diff (`policy.versions-kept`); older ones are
        /// pruned as new ones are written, never the one enforced.
        public var versionsKept = 100
        /// Whether time conditions of `strict` policies trust the clock only when the kernel says NTP has
        /// synchronised it (`policy.clock`).
        public var clock = ClockTrust.kernel
    }

    /// `policy.clock`: `kernel` asks the kernel whether the clock is synchronised; `trusted` takes it as right.
    public enum ClockTrust: String, Sendable, CaseIterable {
        case kernel
        case trusted
    }

    public var policy = Policy()

    /// Warden's own certificate authorities (`pki.*`, docs/pki.md).
    public struct PKI: Sendable {
        /// The plain-HTTP listener that serves only CRLs and OCSP (relying parties need no TLS to check
        /// revocation, RFC 5280 §4.2.1.13); off unless enabled.
        public struct PlainHTTP: Sendable {
            public var enabled = false
            public var address = "127.0.0.1"
            public var port = 8080
        }

        /// The URL issued certificates point CRL and OCSP clients at; nil derives it from the listeners: the
        /// plain one when enabled, else HTTPS, at the hub's host name.
        public var baseURL: String?
        public var http = PlainHTTP()
        /// Seconds a CRL is valid for (its `nextUpdate`), and an OCSP answer.
        public var crlValidity = 86_400
        public var ocspValidity = 3_600
        /// Seconds an external CA's OCSP responder's `good` or `revoked` answer is kept (`RevocationCheck.ocsp`).
        public var ocspCache = 300
        /// Device certificates' lifetime when a request names none, and the longest one may ask for.
        public var defaultDays = 365
        public var maximumDays = 3_650
    }

    public var pki = PKI()

    /// The Defender's rules (`defender.*`, docs/defender.md).
    public struct Defender: Sendable {
        /// Refused authentications from one address within `authFailureWindow` seconds that raise an alert.
        public var authFailureThreshold = 20
        public var authFailureWindow = 60
        /// Seconds such an address is banned for; 0 bans nobody by itself (the alert is raised either way).
        public var authFailureBan = 0
        /// Accepted connections of one client within `flappingWindow` seconds that raise a flapping alert.
        public var flappingThreshold = 15
        public var flappingWindow = 60
        /// Seconds the device is banned for (in its tenant); 0 bans nobody by itself.
        public var flappingBan = 0
        /// TCP connections from one address within `floodWindow` seconds that raise a connection-flood alert.
        public var floodThreshold = 200
        public var floodWindow = 10
        /// Seconds such an address is banned for; 0 bans nobody by itself.
        public var floodBan = 0
        /// Seconds between two reports of a device's activity (its behaviour baseline's interval).
        public var sampleInterval = 10
        /// Hours between two scheduled audits (the first this long after start); 0: on demand only.
        public var auditInterval = 24
        /// Where alerts are POSTed (http or https), and the secret they are signed with: from
        /// `WARDEN_DEFENDER_WEBHOOK_SECRET` or the file `webhookSecretFile` names, never from the YAML.
        public var webhookURL: String?
        public var webhookSecretFile: String?
        public var webhookSecret: SecretBytes?
    }

    public var defender = Defender()
    /// People's sign-in: token lifetimes and lockout (`auth.*`).
    public var access = AccessService.Settings()
    /// Cloud-to-device queues.
    public var cloudToDevice = CloudToDeviceService.Configuration()
    /// A PKCS #11 token that holds the key the master key is wrapped under (`hsm.*`); nil without one.
    public struct HSM: Sendable {
        /// The module's path (`/usr/lib/softhsm/libsofthsm2.so`).
        public var module = ""
        public var tokenLabel = ""
        public var pinFile: String?
        /// From `WARDEN_HSM_PIN` or `pinFile`, never from the YAML.
        public var pin: SecretBytes?

        func with(module: String? = nil, tokenLabel: String? = nil, pinFile: String? = nil) -> HSM {
            var copy = self
            if let module { copy.module = module }
            if let tokenLabel { copy.tokenLabel = tokenLabel }
            if let pinFile { copy.pinFile = pinFile }
            return copy
        }
    }

    public var hsm: HSM?

    /// Where the hub keeps its state (`store.*`): the embedded SQLite file by default, or a PostgreSQL database
    /// that several nodes share.
    public struct Store: Sendable {
        public enum Backend: String, Sendable, CaseIterable {
            case sqlite, postgresql
        }

        public var backend = Backend.sqlite
        /// `postgres://USER@HOST:PORT/DATABASE?sslmode=…&sslrootcert=…`, without a password.
        public var url: String?
        public var poolSize = 10
        public var passwordFile: String?
        /// From `WARDEN_STORE_PASSWORD` or `passwordFile`, never from the YAML or the URL.
        public var password: SecretBytes?
    }

    public var store = Store()

    /// Several nodes on one PostgreSQL store (`cluster.*`): NATS carries routed messages and events between
    /// them (docs/scaling.md). Off unless `cluster.nats-urls` names a server.
    public struct Cluster: Sendable {
        public struct Server: Sendable, Hashable {
            public let host: String
            public let port: Int
        }

        /// The NATS servers, tried in turn.
        public var natsServers: [Server] = []
        /// Whether the servers are spoken to over TLS (`tls://` URLs), their certificates verified.
        public var natsTLS = false
        /// The CA (PEM) the servers' certificates are verified against; the system's trust store when unset.
        public var natsCAFile: String?
        public var natsUser: String?
        public var natsPasswordFile: String?
        /// From `WARDEN_CLUSTER_NATS_PASSWORD` or `natsPasswordFile`, never from the YAML.
        public var natsPassword: SecretBytes?
        /// This node's name in NATS's monitoring; the host name when unset.
        public var nodeName: String?
        /// Bytes waiting for the NATS connection before routed messages are dropped (and counted).
        public var outboundLimit = 8 * 1024 * 1024

        public var isEnabled: Bool { !natsServers.isEmpty }

        /// The node's name: stored with the MQTT sessions it holds, so it must be unique in the cluster and the
        /// same across the node's restarts (it takes up its sessions again by it).
        public var node: String { nodeName ?? ProcessInfo.processInfo.hostName }
    }

    public var cluster = Cluster()
    /// The master key from `WARDEN_MASTER_KEY`, if given; otherwise `DATA_DIR/master.key`.
    public var masterKeyOverride: SecretBytes?

    /// The defaults.
    public init() {}
}
