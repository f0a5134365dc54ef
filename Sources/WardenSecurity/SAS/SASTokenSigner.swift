public import Crypto
import Foundation
public import WardenCore

/// Makes SAS tokens the way Azure's SDKs do: `sr` is the resource URI percent-encoded with every reserved
/// character escaped in upper-case hex (Python's `quote(…, safe="")`), `sig` is base64(HMAC-SHA256(key,
/// sr + "\n" + se)) percent-encoded the same way.
public enum SASTokenSigner {
    /// A signed token for `resource` (for example `hub.example/devices/dev-1`) valid until `expiry`.
    public static func token(
        resource: String, key: SymmetricKey, expiry: UInt64, keyName: PolicyName? = nil
    ) -> String {
        let encodedResource = percentEncode(resource)
        let signature = sign(encodedResource: encodedResource, expiry: expiry, key: key)
        var token = "SharedAccessSignature sr=\(encodedResource)&sig=\(percentEncode(signature))&se=\(expiry)"
        if let keyName {
            token += "&skn=\(percentEncode(keyName.rawValue))"
        }
        return token
    }

    /// base64(HMAC-SHA256(key, encodedResource + "\n" + expiry)).
    static func sign(encodedResource: String, expiry: UInt64, key: SymmetricKey) -> String {
        Data(SASKey(key).authenticationCode(encodedResource: encodedResource, expiry: expiry)).base64EncodedString()
    }

    /// Escapes everything but RFC 3986 unreserved characters, upper-case hex.
    static func percentEncode(_ text: String) -> String {
        PercentEncoding.encode(text)
    }
}
