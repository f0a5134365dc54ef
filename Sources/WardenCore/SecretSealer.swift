/// Seals secrets for storage at rest and opens them again.
///
/// WardenCore declares the seam so that the store can keep secret columns sealed without knowing the
/// cipher; WardenSecurity implements it (AES-GCM envelope under the master key).
public protocol SecretSealer: Sendable {
    /// Encrypts and authenticates `secret`, binding it to `context` (for example the row it belongs in).
    func seal(_ secret: SecretBytes, context: String) throws(WardenError) -> [UInt8]
    /// Verifies and decrypts a sealed blob; fails with `sealing.open_failed` on any tampering.
    func open(_ sealed: [UInt8], context: String) throws(WardenError) -> SecretBytes
    /// `sealed` opened and sealed again under the key in use, or nil when it already is under that key (what a
    /// master-key rotation asks of every sealed value).
    func reseal(_ sealed: [UInt8], context: String) throws(WardenError) -> [UInt8]?
}

extension SecretSealer {
    public func reseal(_ sealed: [UInt8], context: String) throws(WardenError) -> [UInt8]? {
        try seal(try open(sealed, context: context), context: context)
    }
}
