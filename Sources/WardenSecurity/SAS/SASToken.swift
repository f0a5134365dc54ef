public import WardenCore

/// A parsed shared access signature (anchors.md §1.2): `SharedAccessSignature sr=…&sig=…&se=…[&skn=…]`.
///
/// Holds the `sr` exactly as transmitted, because the signature covers those bytes and not a re-encoding.
/// Printing a token shows `<redacted>`: it is a bearer credential.
public struct SASToken: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The longest token accepted; Azure's SDKs produce well under 1 KiB.
    public static let maximumLength = 4096

    /// `sr` as transmitted (percent-encoded); the string-to-sign starts with it.
    public let encodedResource: String
    /// `sr` percent-decoded: the resource URI the token is scoped to.
    public let resource: String
    /// `sig` decoded: the 32-byte HMAC-SHA256.
    public let signature: [UInt8]
    /// `se`: expiry in seconds since the Unix epoch.
    public let expiry: UInt64
    /// `skn`: the shared access policy that signed it; nil when a device key signed it.
    public let keyName: PolicyName?

    /// Makes a token from its parts; `parse` is the usual way in.
    public init(encodedResource: String, resource: String, signature: [UInt8], expiry: UInt64, keyName: PolicyName?) {
        self.encodedResource = encodedResource
        self.resource = resource
        self.signature = signature
        self.expiry = expiry
        self.keyName = keyName
    }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
}
