import Foundation
import WardenCore
import WardenSecurity
import WardenStore

/// The bootstrap admin credential: created on the first start, written once to `DATA_DIR/admin.token`
/// (mode 0600, for the CLI) and shown once; the database keeps only its hash.
enum BootstrapCredential {
    static let name = "bootstrap-admin"
    /// The platform administrator the credential belongs to (created on the first start, with a one-time
    /// password in `DATA_DIR/admin.password`).
    static let adminUsername = "admin"

    /// The stored hash, and the new credential when this start created it.
    static func ensure(_ store: some CredentialStore, directory: DataDirectory, now: Date) async throws
        -> (hash: [UInt8], created: SecretBytes?)
    {
        if let hash = try await store.credentialHashes()[name] {
            return (hash, nil)
        }
        let credential = BearerCredential.generate()
        try directory.write(Data(credential.bytes + [UInt8(ascii: "\n")]), to: directory.adminCredential, mode: 0o600)
        let hash = BearerCredential.hash(credential)
        try await store.storeCredentialHash(name: name, hash: hash, createdAt: now)
        return (hash, credential)
    }
}
