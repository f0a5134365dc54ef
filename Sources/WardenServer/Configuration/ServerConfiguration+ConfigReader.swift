import Configuration
import Foundation
import Logging
import SystemPackage
import WardenCore
import Yams

extension ServerConfiguration {
    /// One configuration key: its dotted name (YAML path; `WARDEN_` + upper snake case in the environment;
    /// `--` + dashes as a flag) and how it is applied.
    struct Key: Sendable {
        let name: String
        let apply: @Sendable (inout ServerConfiguration, String) throws -> Void
    }

    /// Every key `warden serve` understands; docs/configuration.md documents exactly these (a test checks it).
    static let keys: [Key] = [
        Key(name: "data-dir") { config, value in config.dataDirectory = value },
        Key(name: "hub.hostname") { config, value in config.hubHostName = try HostName(value) },
        Key(name: "log.level") { config, value in config.logLevel = try parse(value, "log.level", Logger.Level.self) },
        Key(name: "log.format") { config, value in config.logFormat = try parse(value, "log.format", LogFormat.self) },
        Key(name: "https.address") { config, value in
            guard IPAddress(value) != nil || value == "localhost" else {
                throw invalid("https.address", value, "an IP address")
            }
            config.https.address = value
        },
        Key(name: "https.port") { config, value in config.https.port = try port(value, "https.port") },
        Key(name: "tls.minimum-version") { config, value in
            config.tls.minimumVersion = try parse(value, "tls.minimum-version", TLSMinimumVersion.self)
        },
        Key(name: "tls.certificate") { config, value in config.tls.certificatePath = value },
        Key(name: "tls.private-key") { config, value in config.tls.privateKeyPath = value },
    ]

    /// Environment variables that are not configuration keys but are read by name: the master key, and the
    /// CLI's client settings.
    static let otherEnvironmentVariables: Set<String> = [
        "WARDEN_MASTER_KEY", "WARDEN_TOKEN", "WARDEN_URL", "WARDEN_CA_FILE", "WARDEN_CONFIG",
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
        if (configuration.tls.certificatePath == nil) != (configuration.tls.privateKeyPath == nil) {
            throw WardenError(
                .configInvalidValue, "'tls.certificate' and 'tls.private-key' go together; set both or neither.")
        }
        return configuration
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

    private static func port(_ value: String, _ key: String) throws(WardenError) -> Int {
        guard let port = Int(value), (0...65535).contains(port) else {
            throw invalid(key, value, "a port from 0 to 65535")
        }
        return port
    }

    private static func invalid(_ key: String, _ value: String, _ expected: String) -> WardenError {
        WardenError(.configInvalidValue, "Setting '\(key)' is '\(value)'; it must be \(expected).")
    }
}
