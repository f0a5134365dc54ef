import Configuration
import Foundation
import Logging
import NIOCore
import SystemPackage
import WardenAccess
import WardenBroker
import WardenCore
import WardenHub
import WardenStore
import Yams

extension ServerConfiguration {
    /// One configuration key: its dotted name (YAML path; `WARDEN_` + upper snake case in the environment;
    /// `--` + dashes as a flag) and how it is applied.
    struct Key: Sendable {
        let name: String
        let apply: @Sendable (inout ServerConfiguration, String) throws -> Void

        /// A whole number within `range`, stored at `path` in whatever integer type it has there.
        static func integer<Number: FixedWidthInteger & SendableMetatype>(
            _ name: String, _ range: ClosedRange<Int>,
            _ path: any WritableKeyPath<ServerConfiguration, Number> & Sendable
        ) -> Key {
            // The table is ours, not input: a range the type cannot hold is a mistake found at start-up.
            precondition(Number(exactly: range.lowerBound) != nil && Number(exactly: range.upperBound) != nil)
            return Key(name: name) { config, value in
                config[keyPath: path] = Number(truncatingIfNeeded: try ServerConfiguration.integer(value, name, range))
            }
        }
    }

    /// Every key `warden serve` understands; docs/configuration.md documents exactly these (a test checks it).
    static let keys: [Key] = [
        Key(name: "data-dir") { config, value in config.dataDirectory = value },
        Key(name: "hub.hostname") { config, value in config.hubHostName = try HostName(value) },
        Key(name: "log.level") { config, value in config.logLevel = try parse(value, "log.level", Logger.Level.self) },
        Key(name: "log.format") { config, value in config.logFormat = try parse(value, "log.format", LogFormat.self) },
        Key(name: "https.address") { config, value in config.https.address = try address(value, "https.address") },
        Key(name: "https.port") { config, value in config.https.port = try port(value, "https.port") },
        .integer("https.first-request-timeout", 1...3600, \.https.firstRequestTimeout),
        .integer("https.idle-timeout", 1...86_400, \.https.idleTimeout),
        .integer("https.request-timeout", 1...3600, \.https.requestTimeout),
        .integer("https.max-header-bytes", 1024...1_048_576, \.https.maximumHeaderBytes),
        .integer("https.max-pending-per-ip", 1...1_000_000, \.https.maximumPendingPerIP),
        .integer("https.max-pending", 1...1_000_000, \.https.maximumPending),
        Key(name: "tls.minimum-version") { config, value in
            config.tls.minimumVersion = try parse(value, "tls.minimum-version", TLSMinimumVersion.self)
        },
        Key(name: "tls.certificate") { config, value in config.tls.certificatePath = value },
        Key(name: "tls.private-key") { config, value in config.tls.privateKeyPath = value },
        .integer("tls.renewal-check", 1...86_400, \.tls.renewalCheck),
        Key(name: "mqtt.address") { config, value in config.mqtt.address = try address(value, "mqtt.address") },
        Key(name: "mqtt.port") { config, value in config.mqtt.port = try port(value, "mqtt.port") },
        Key(name: "mqtt.plain.enabled") { config, value in
            config.mqtt.plain.enabled = try bool(value, "mqtt.plain.enabled")
        },
        Key(name: "mqtt.plain.address") { config, value in
            config.mqtt.plain.address = try address(value, "mqtt.plain.address")
        },
        Key(name: "mqtt.plain.port") { config, value in config.mqtt.plain.port = try port(value, "mqtt.plain.port") },
        Key(name: "mqtt.plain.anonymous") { config, value in
            config.mqtt.plain.anonymous =
                value == "none" ? nil : try parse(value, "mqtt.plain.anonymous", AnonymousAccess.self)
        },
        Key(name: "mqtt.plain.allow-non-loopback") { config, value in
            config.mqtt.plain.allowNonLoopback = try bool(value, "mqtt.plain.allow-non-loopback")
        },
        Key(name: "amqp.enabled") { config, value in config.amqp.enabled = try bool(value, "amqp.enabled") },
        Key(name: "amqp.address") { config, value in config.amqp.address = try address(value, "amqp.address") },
        Key(name: "amqp.port") { config, value in config.amqp.port = try port(value, "amqp.port") },
        .integer("amqp.link-credit", 1...10_000, \.amqp.linkCredit),
        .integer("amqp.max-message-size", 1024...1_048_576, \.amqp.maximumMessageSize),
        .integer("amqp.max-devices-per-connection", 1...10_000, \.amqp.maximumDevicesPerConnection),
        .integer("amqp.max-connections", 1...10_000_000, \.amqp.maximumConnections),
        .integer("amqp.authentication-timeout", 1...300, \.amqp.authenticationTimeout),
        .integer("amqp.idle-timeout", 10...3600, \.amqp.idleTimeout),
        .integer("mqtt.max-packet-size", 64...268_435_460, \.mqtt.maximumPacketSize),
        .integer("mqtt.max-topic-levels", 1...65_535, \.mqtt.maximumTopicLevels),
        .integer("mqtt.max-inflight", 1...65_535, \.mqtt.broker.maximumInflight),
        .integer("mqtt.max-queued-messages", 0...10_000_000, \.mqtt.broker.maximumQueuedMessages),
        .integer("mqtt.max-queued-bytes", 0...(1 << 40), \.mqtt.broker.maximumQueuedBytes),
        .integer("mqtt.max-session-expiry", 0...4_294_967_295, \.mqtt.broker.maximumSessionExpiry),
        .integer("mqtt.max-subscriptions", 1...100_000, \.mqtt.broker.maximumSubscriptionsPerSession),
        .integer("mqtt.max-retained", 0...10_000_000, \.mqtt.broker.maximumRetainedPerTenant),
        .integer("mqtt.max-retained-bytes", 0...(1 << 40), \.mqtt.broker.maximumRetainedBytesPerTenant),
        .integer("mqtt.max-connections", 1...10_000_000, \.mqtt.broker.maximumConnections),
        Key(name: "mqtt.late-subscription-window") { config, value in
            let microseconds = try integer(value, "mqtt.late-subscription-window", 0...1_000_000)
            // total: the range checked by integer(_:_:_:) fits the type.
            config.mqtt.broker.lateSubscriptionWindow = .microseconds(Int64(microseconds))
        },
        .integer("mqtt.late-subscription-bytes", 0...(64 << 20), \.mqtt.broker.lateSubscriptionBytes),
        Key(name: "mqtt.max-keep-alive") { config, value in
            let seconds = try integer(value, "mqtt.max-keep-alive", 0...65_535)
            // total: the range checked by integer(_:_:_:) fits the type.
            config.mqtt.maximumKeepAlive = seconds == 0 ? nil : UInt16(seconds)
        },
        .integer("mqtt.azure-max-keep-alive", 1...65_535, \.mqtt.azureMaximumKeepAlive),
        .integer("mqtt.receive-maximum", 1...65_535, \.mqtt.receiveMaximum),
        .integer("mqtt.topic-alias-maximum", 0...65_535, \.mqtt.topicAliasMaximum),
        .integer("mqtt.connect-timeout", 1...3600, \.mqtt.connectTimeout),
        Key(name: "mqtt.connect-rate-per-ip") { config, value in
            config.mqtt.connectRate.ratePerSecond = Double(
                try integer(value, "mqtt.connect-rate-per-ip", 1...1_000_000))
        },
        Key(name: "mqtt.connect-burst-per-ip") { config, value in
            config.mqtt.connectRate.burst = Double(try integer(value, "mqtt.connect-burst-per-ip", 1...10_000_000))
        },
        .integer("mqtt.max-pending-per-ip", 1...1_000_000, \.mqtt.maximumPendingPerIP),
        .integer("mqtt.max-pending", 1...1_000_000, \.mqtt.maximumPending),
        .integer("mqtt.sys-interval", 0...86_400, \.mqtt.systemTopicsInterval),
        Key(name: "mqtt.denied-publish") { config, value in
            guard value == "close" || value == "drop" else {
                throw invalid("mqtt.denied-publish", value, "'close' or 'drop'")
            }
            config.mqtt.closeOnDeniedPublish = value == "close"
        },
        .integer("c2d.max-queue-depth", 1...10_000, \.cloudToDevice.maximumDepth),
        .integer("c2d.max-delivery-count", 1...100, \.cloudToDevice.maximumDeliveryCount),
        .integer("c2d.default-ttl", 1...31_536_000, \.cloudToDevice.defaultTimeToLive),
        .integer("c2d.max-ttl", 1...31_536_000, \.cloudToDevice.maximumTimeToLive),
        .integer("c2d.lock-duration", 5...300, \.cloudToDevice.lockDuration),
        .integer("telemetry.retention-days", 1...3650, \.telemetry.retentionDays),
        .integer("audit.retention-days", 1...36_500, \.audit.retentionDays),
        .integer("audit.buffer-limit", 1_000...10_000_000, \.audit.bufferLimit),
        .integer("policy.versions-kept", 1...10_000, \.policy.versionsKept),
        Key(name: "hsm.module") { config, value in config.hsm = (config.hsm ?? .init()).with(module: value) },
        Key(name: "hsm.token-label") { config, value in
            guard (1...32).contains(value.utf8.count) else { throw invalid("hsm.token-label", value, "1 to 32 bytes") }
            config.hsm = (config.hsm ?? .init()).with(tokenLabel: value)
        },
        Key(name: "hsm.pin-file") { config, value in config.hsm = (config.hsm ?? .init()).with(pinFile: value) },
        Key(name: "pki.base-url") { config, value in
            guard let url = URL(string: value), ["http", "https"].contains(url.scheme ?? ""), url.host != nil,
                url.query == nil
            else { throw invalid("pki.base-url", value, "an http or https URL without a query") }
            config.pki.baseURL = value
        },
        Key(name: "pki.http.enabled") { config, value in config.pki.http.enabled = try bool(value, "pki.http.enabled")
        },
        Key(name: "pki.http.address") { config, value in
            config.pki.http.address = try address(value, "pki.http.address")
        },
        Key(name: "pki.http.port") { config, value in config.pki.http.port = try port(value, "pki.http.port") },
        .integer("pki.crl-validity", 3_600...2_592_000, \.pki.crlValidity),
        .integer("pki.ocsp-validity", 60...604_800, \.pki.ocspValidity),
        .integer("pki.ocsp-cache", 1...86_400, \.pki.ocspCache),
        .integer("defender.auth-failures.threshold", 1...100_000, \.defender.authFailureThreshold),
        .integer("defender.auth-failures.window", 1...86_400, \.defender.authFailureWindow),
        .integer("defender.auth-failures.ban", 0...31_536_000, \.defender.authFailureBan),
        .integer("defender.flapping.threshold", 2...100_000, \.defender.flappingThreshold),
        .integer("defender.flapping.window", 1...86_400, \.defender.flappingWindow),
        .integer("defender.flapping.ban", 0...31_536_000, \.defender.flappingBan),
        .integer("defender.connection-flood.threshold", 2...1_000_000, \.defender.floodThreshold),
        .integer("defender.connection-flood.window", 1...86_400, \.defender.floodWindow),
        .integer("defender.connection-flood.ban", 0...31_536_000, \.defender.floodBan),
        .integer("defender.sample-interval", 0...3_600, \.defender.sampleInterval),
        .integer("defender.audit-interval", 0...8_760, \.defender.auditInterval),
        Key(name: "defender.webhook.url") { config, value in
            guard value.utf8.count <= 2_048, let url = URL(string: value),
                ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host?.isEmpty == false
            else {
                throw WardenError(.configInvalidValue, "'defender.webhook.url' is an http or https URL.")
            }
            config.defender.webhookURL = value
        },
        Key(name: "defender.webhook.secret-file") { config, value in config.defender.webhookSecretFile = value },
        Key(name: "store.backend") { config, value in
            // `postgres`, as the URL scheme and most tools name it, is the same engine.
            config.store.backend = try parse(
                value == "postgres" ? "postgresql" : value, "store.backend", ServerConfiguration.Store.Backend.self)
        },
        Key(name: "store.url") { config, value in config.store.url = value },
        .integer("store.pool-size", 1...1_000, \.store.poolSize),
        Key(name: "store.password-file") { config, value in config.store.passwordFile = value },
        Key(name: "cluster.nats-urls") { config, value in
            (config.cluster.natsServers, config.cluster.natsTLS) = try natsServers(value)
        },
        Key(name: "cluster.nats-ca") { config, value in config.cluster.natsCAFile = value },
        Key(name: "cluster.nats-user") { config, value in config.cluster.natsUser = value },
        Key(name: "cluster.nats-password-file") { config, value in config.cluster.natsPasswordFile = value },
        Key(name: "cluster.node-name") { config, value in
            guard (1...128).contains(value.utf8.count), value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                throw WardenError(.configInvalidValue, "'cluster.node-name' is 1 to 128 printable ASCII characters.")
            }
            config.cluster.nodeName = value
        },
        .integer("cluster.outbound-limit", 65_536...1_073_741_824, \.cluster.outboundLimit),
        .integer("pki.default-days", 1...36_500, \.pki.defaultDays),
        .integer("pki.max-days", 1...36_500, \.pki.maximumDays),
        Key(name: "policy.clock") { config, value in
            config.policy.clock = try parse(value, "policy.clock", ServerConfiguration.ClockTrust.self)
        },
        Key(name: "auth.access-token-lifetime") { config, value in
            config.access.accessTokenLifetime = TimeInterval(
                try integer(value, "auth.access-token-lifetime", 60...86_400))
        },
        Key(name: "auth.refresh-token-lifetime") { config, value in
            config.access.refreshTokenLifetime = TimeInterval(
                try integer(value, "auth.refresh-token-lifetime", 3600...31_536_000))
        },
        .integer("auth.lockout-threshold", 1...100, \.access.throttle.userThreshold),
        Key(name: "auth.lockout-seconds") { config, value in
            config.access.throttle.baseLockout = TimeInterval(try integer(value, "auth.lockout-seconds", 1...86_400))
        },
    ]

    /// Environment variables that are not configuration keys but are read by name: the master key, and the
    /// CLI's client settings.
    static let otherEnvironmentVariables: Set<String> = [
        "WARDEN_MASTER_KEY", "WARDEN_TOKEN", "WARDEN_URL", "WARDEN_CA_FILE", "WARDEN_CONFIG", "WARDEN_CONFIG_DIR",
        "WARDEN_HSM_PIN", "WARDEN_DEFENDER_WEBHOOK_SECRET", "WARDEN_STORE_PASSWORD", "WARDEN_CLUSTER_NATS_PASSWORD",
    ]

    /// Loads the configuration. Precedence, highest first: flags, `WARDEN_*` environment variables, the YAML
    /// file, defaults. An unknown key or an invalid value stops with `config.unknown_key` or
    /// `config.invalid_value` naming the key.
    public static func load(flags: [String: String], environment: [String: String], file: String?) async throws
        -> ServerConfiguration
    {
        let known = Set(keys.map(\.name))
        for name in flags.keys where !known.contains(name) {
            throw WardenError(.configUnknownKey, "Unknown setting '\(name)'.")
        }
        var fromEnvironment: [String: String] = [:]
        for (variable, value) in environment where variable.hasPrefix("WARDEN_") {
            if otherEnvironmentVariables.contains(variable) || variable.hasPrefix("WARDEN_TEST_") { continue }
            guard let key = keys.first(where: { environmentName($0.name) == variable }) else {
                throw WardenError(
                    .configUnknownKey,
                    "Unknown environment variable '\(variable)'; known: "
                        + keys.map { environmentName($0.name) }.joined(separator: ", ") + ".")
            }
            fromEnvironment[environmentName(key.name).dropFirst("WARDEN_".count).description] = value
        }
        var providers: [any ConfigProvider] = [
            InMemoryProvider(
                name: "flags",
                values: Dictionary(
                    uniqueKeysWithValues: flags.map {
                        (
                            AbsoluteConfigKey($0.key.split(separator: ".").map(String.init)),
                            ConfigValue(.string($0.value), isSecret: false)
                        )
                    })),
            EnvironmentVariablesProvider(environmentVariables: fromEnvironment),
        ]
        if let file {
            try checkYAMLKeys(file, known: known)
            do {
                providers.append(try await FileProvider<YAMLSnapshot>(filePath: FilePath(file)))
            } catch {
                throw WardenError(.configUnreadableFile, "The configuration file \(file) cannot be read: \(error).")
            }
        }
        let reader = ConfigReader(providers: providers)
        var configuration = ServerConfiguration()
        for key in keys {
            guard let value = reader.string(forKey: ConfigKey(key.name.split(separator: ".").map(String.init))) else {
                continue
            }
            do {
                try key.apply(&configuration, value)
            } catch let error as WardenError where error.code != .configInvalidValue {
                throw WardenError(.configInvalidValue, "Setting '\(key.name)': \(error.reason)")
            }
        }
        if let masterKey = environment["WARDEN_MASTER_KEY"] {
            configuration.masterKeyOverride = SecretBytes(Array(masterKey.utf8))
        }
        try readHSMPin(&configuration, environment: environment)
        try readWebhookSecret(&configuration.defender, environment: environment)
        try readStorePassword(&configuration.store, environment: environment)
        try readCluster(&configuration, environment: environment)
        try checkPlainListener(configuration.mqtt.plain)
        try checkTimeToLive(configuration.cloudToDevice)
        if (configuration.tls.certificatePath == nil) != (configuration.tls.privateKeyPath == nil) {
            throw WardenError(
                .configInvalidValue, "'tls.certificate' and 'tls.private-key' go together; set both or neither.")
        }
        return configuration
    }

    /// The token's PIN: `WARDEN_HSM_PIN`, or the file `hsm.pin-file` names; never a YAML value. An HSM needs
    /// its module, token label and PIN together, and excludes `WARDEN_MASTER_KEY`.
    private static func readHSMPin(_ configuration: inout ServerConfiguration, environment: [String: String]) throws {
        guard var hsm = configuration.hsm else { return }
        if let pin = environment["WARDEN_HSM_PIN"] {
            hsm.pin = SecretBytes(Array(pin.utf8))
        } else if let file = hsm.pinFile {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw WardenError(.configUnreadableFile, "Cannot read 'hsm.pin-file' \(file).")
            }
            hsm.pin = SecretBytes(
                Array(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).utf8))
        }
        guard !hsm.module.isEmpty, !hsm.tokenLabel.isEmpty, hsm.pin != nil else {
            throw WardenError(
                .configInvalidValue,
                "An HSM needs 'hsm.module', 'hsm.token-label' and a PIN (WARDEN_HSM_PIN or 'hsm.pin-file').")
        }
        guard configuration.masterKeyOverride == nil else {
            throw WardenError(.configInvalidValue, "WARDEN_MASTER_KEY and an HSM exclude each other.")
        }
        configuration.hsm = hsm
    }

    /// The alert webhook's secret: `WARDEN_DEFENDER_WEBHOOK_SECRET`, or the file `defender.webhook.secret-file`
    /// names; never a YAML value. A webhook needs one (its bodies are signed), of at least 16 bytes.
    private static func readWebhookSecret(
        _ defender: inout ServerConfiguration.Defender, environment: [String: String]
    ) throws {
        guard defender.webhookURL != nil else { return }
        var secret = environment["WARDEN_DEFENDER_WEBHOOK_SECRET"]
        if secret == nil, let file = defender.webhookSecretFile {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw WardenError(.configUnreadableFile, "Cannot read 'defender.webhook.secret-file' \(file).")
            }
            secret = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let secret, secret.utf8.count >= 16 else {
            throw WardenError(
                .configInvalidValue,
                "'defender.webhook.url' needs a secret of at least 16 bytes (WARDEN_DEFENDER_WEBHOOK_SECRET or 'defender.webhook.secret-file')."
            )
        }
        defender.webhookSecret = SecretBytes(Array(secret.utf8))
    }

    /// PostgreSQL's settings checked now, so that a wrong URL stops start-up before anything opens; its password
    /// from `WARDEN_STORE_PASSWORD` or the file `store.password-file` names, never from the YAML or the URL.
    private static func readStorePassword(_ store: inout ServerConfiguration.Store, environment: [String: String])
        throws
    {
        guard store.backend == .postgresql else { return }
        guard let url = store.url else {
            throw WardenError(.configInvalidValue, "'store.backend: postgresql' needs 'store.url'.")
        }
        if URLComponents(string: url)?.password != nil {
            throw WardenError(
                .configInvalidValue,
                "'store.url' must not hold the password: use WARDEN_STORE_PASSWORD or 'store.password-file'.")
        }
        if let password = environment["WARDEN_STORE_PASSWORD"] {
            store.password = SecretBytes(Array(password.utf8))
        } else if let file = store.passwordFile {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw WardenError(.configUnreadableFile, "Cannot read 'store.password-file' \(file).")
            }
            store.password = SecretBytes(
                Array(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).utf8))
        }
        do {
            _ = try store.postgreSQLSettings()
        } catch let error as WardenError {
            throw WardenError(.configInvalidValue, error.reason)
        }
    }

    /// `tls://HOST[:PORT]` (the server's certificate verified for HOST) or, on loopback only, `nats://HOST[:PORT]`,
    /// comma-separated, all of one kind: the nodes' traffic never crosses a network in the clear. Returns the
    /// servers and whether they are spoken to over TLS.
    static func natsServers(_ value: String) throws(WardenError) -> ([ServerConfiguration.Cluster.Server], Bool) {
        let urls = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !urls.isEmpty, urls.count <= 32 else {
            throw WardenError(.configInvalidValue, "'cluster.nats-urls' names 1 to 32 servers, comma-separated.")
        }
        let schemes = Set(urls.map { URLComponents(string: $0)?.scheme ?? "" })
        guard schemes == ["tls"] || schemes == ["nats"] else {
            throw WardenError(
                .configInvalidValue, "'cluster.nats-urls' are all tls://HOST[:PORT] or all nats://HOST[:PORT].")
        }
        let servers = try urls.map { text throws(WardenError) -> ServerConfiguration.Cluster.Server in
            guard let url = URLComponents(string: text), let host = url.host, !host.isEmpty, url.user == nil,
                url.password == nil, url.path.isEmpty, url.query == nil, (1...65_535).contains(url.port ?? 4222)
            else {
                throw WardenError(.configInvalidValue, "'cluster.nats-urls': '\(text)' is not tls://HOST[:PORT].")
            }
            if url.scheme == "nats", !isLoopback(host) {
                throw WardenError(
                    .configInvalidValue,
                    "'cluster.nats-urls': '\(host)' is not a loopback address; a NATS server elsewhere is reached with tls://."
                )
            }
            return .init(host: host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port: url.port ?? 4222)
        }
        return (servers, schemes == ["tls"])
    }

    /// `localhost`, or an IPv4 address in 127.0.0.0/8, or ::1 (a name such as `127.example` is not).
    private static func isLoopback(_ host: String) -> Bool {
        let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if bare == "localhost" || bare == "::1" { return true }
        let octets = bare.split(separator: ".", omittingEmptySubsequences: false)
        // total: UInt8(_: Substring) is nil for anything that is not a number in range.
        return octets.count == 4 && octets.first == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    /// A cluster shares the store (PostgreSQL), and takes its NATS password from `WARDEN_CLUSTER_NATS_PASSWORD`
    /// or `cluster.nats-password-file`, never from the YAML.
    private static func readCluster(_ configuration: inout ServerConfiguration, environment: [String: String]) throws {
        guard configuration.cluster.isEnabled else { return }
        if let file = configuration.cluster.natsCAFile, !FileManager.default.isReadableFile(atPath: file) {
            throw WardenError(.configUnreadableFile, "Cannot read 'cluster.nats-ca' \(file).")
        }
        guard configuration.store.backend == .postgresql else {
            throw WardenError(
                .configInvalidValue,
                "'cluster.nats-urls' needs 'store.backend: postgresql': the nodes of a cluster share one database.")
        }
        if let password = environment["WARDEN_CLUSTER_NATS_PASSWORD"] {
            configuration.cluster.natsPassword = SecretBytes(Array(password.utf8))
        } else if let file = configuration.cluster.natsPasswordFile {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw WardenError(.configUnreadableFile, "Cannot read 'cluster.nats-password-file' \(file).")
            }
            configuration.cluster.natsPassword = SecretBytes(
                Array(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).utf8))
        }
    }

    /// `hub.hostname` → `WARDEN_HUB_HOSTNAME`.
    static func environmentName(_ key: String) -> String {
        "WARDEN_" + key.uppercased().map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
    }

    private static func checkYAMLKeys(_ file: String, known: Set<String>) throws {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw WardenError(.configUnreadableFile, "The configuration file \(file) cannot be read.")
        }
        let node: Any?
        do {
            node = try Yams.load(yaml: text)
        } catch {
            throw WardenError(.configUnreadableFile, "The configuration file \(file) is not valid YAML: \(error).")
        }
        guard let node else { return }
        guard let mapping = node as? [String: Any] else {
            throw WardenError(.configUnreadableFile, "The configuration file \(file) must be a mapping of settings.")
        }
        for name in flatten(mapping, prefix: "") where !known.contains(name) {
            throw WardenError(.configUnknownKey, "Unknown setting '\(name)' in \(file).")
        }
    }

    private static func flatten(_ mapping: [String: Any], prefix: String) -> [String] {
        mapping.flatMap { key, value -> [String] in
            let name = prefix.isEmpty ? key : "\(prefix).\(key)"
            if let nested = value as? [String: Any] { return flatten(nested, prefix: name) }
            return [name]
        }.sorted()
    }

    private static func parse<T: RawRepresentable>(_ value: String, _ key: String, _ type: T.Type) throws(WardenError)
        -> T
    where T.RawValue == String, T: CaseIterable {
        guard let parsed = T(rawValue: value) else {
            throw invalid(key, value, "one of " + T.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", "))
        }
        return parsed
    }

    /// A default time to live above the maximum would refuse every message sent without one.
    private static func checkTimeToLive(_ settings: CloudToDeviceService.Configuration) throws(WardenError) {
        guard settings.defaultTimeToLive <= settings.maximumTimeToLive else {
            throw WardenError(
                .configInvalidValue,
                "'c2d.default-ttl' (\(settings.defaultTimeToLive)) must not exceed 'c2d.max-ttl' (\(settings.maximumTimeToLive))."
            )
        }
    }

    /// Plain MQTT stays on loopback unless explicitly allowed; anonymous clients never leave loopback.
    private static func checkPlainListener(_ plain: MQTT.Plain) throws(WardenError) {
        guard plain.enabled else { return }
        let isLoopback = ["127.0.0.1", "::1", "localhost"].contains(plain.address) || plain.address.hasPrefix("127.")
        if !isLoopback, plain.anonymous != nil {
            throw WardenError(
                .configInvalidValue,
                "'mqtt.plain.anonymous' admits clients without credentials and is allowed on loopback only; "
                    + "'mqtt.plain.address' is \(plain.address).")
        }
        if !isLoopback, !plain.allowNonLoopback {
            throw WardenError(
                .configInvalidValue,
                "Plain MQTT on \(plain.address) sends credentials unencrypted; set 'mqtt.plain.allow-non-loopback' "
                    + "to true to allow it.")
        }
    }

    private static func address(_ value: String, _ key: String) throws(WardenError) -> String {
        guard IPAddress(value) != nil || value == "localhost" else { throw invalid(key, value, "an IP address") }
        return value
    }

    private static func bool(_ value: String, _ key: String) throws(WardenError) -> Bool {
        switch value.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: throw invalid(key, value, "true or false")
        }
    }

    private static func integer(_ value: String, _ key: String, _ range: ClosedRange<Int>) throws(WardenError) -> Int {
        // total: parses text: nil unless a number in range.
        guard let number = Int(value), range.contains(number) else {
            throw invalid(key, value, "a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    private static func port(_ value: String, _ key: String) throws(WardenError) -> Int {
        // total: parses text: nil unless a number in range.
        guard let port = Int(value), (0...65535).contains(port) else {
            throw invalid(key, value, "a port from 0 to 65535")
        }
        return port
    }

    private static func invalid(_ key: String, _ value: String, _ expected: String) -> WardenError {
        WardenError(.configInvalidValue, "Setting '\(key)' is '\(value)'; it must be \(expected).")
    }
}

extension ServerConfiguration.Store {
    /// The PostgreSQL connection this section describes (`store.url`, the password, `store.pool-size`).
    func postgreSQLSettings() throws -> PostgreSQLSettings {
        try PostgreSQLSettings(url: url ?? "", password: password, poolSize: poolSize)
    }
}
