extension Device {
    /// How a device proves who it is.
    public enum Authentication: Sendable {
        /// Shared access signatures signed with one of two symmetric keys.
        case sas(SASKeyPair)
        /// A client certificate whose thumbprint matches the primary or secondary one.
        case x509Thumbprint(primary: Thumbprint, secondary: Thumbprint?)
        /// A client certificate with CN = device id that chains to a verified tenant CA.
        case x509CA

        /// The wire name of the method (`sas`, `x509-thumbprint`, `x509-ca`).
        public var type: AuthenticationType {
            switch self {
            case .sas: .sas
            case .x509Thumbprint: .x509Thumbprint
            case .x509CA: .x509CA
            }
        }
    }

    /// The names of the authentication methods, as the API and CLI spell them.
    public enum AuthenticationType: String, Sendable, Codable, CaseIterable {
        case sas
        case x509Thumbprint = "x509-thumbprint"
        case x509CA = "x509-ca"
    }
}

/// A primary and a secondary 256-bit key, so that one can be rotated while the other is in use.
public struct SASKeyPair: Sendable {
    /// The bytes in each key.
    public static let keyLength = 32

    /// The primary key.
    public var primary: SecretBytes
    /// The secondary key.
    public var secondary: SecretBytes

    /// Wraps two existing keys.
    public init(primary: SecretBytes, secondary: SecretBytes) {
        self.primary = primary
        self.secondary = secondary
    }

    /// Two fresh keys from the OS CSPRNG.
    public static func random() -> SASKeyPair {
        SASKeyPair(primary: .random(count: keyLength), secondary: .random(count: keyLength))
    }
}
