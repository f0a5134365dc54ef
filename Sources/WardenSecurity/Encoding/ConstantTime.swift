import Crypto

/// Secrets compared without leaking where they differ: swift-crypto's comparison of key material, never `==`
/// on the bytes. Different lengths are unequal at once (lengths are not secret).
public enum ConstantTime {
    public static func equal(_ left: [UInt8], _ right: [UInt8]) -> Bool {
        SymmetricKey(data: left) == SymmetricKey(data: right)
    }
}
