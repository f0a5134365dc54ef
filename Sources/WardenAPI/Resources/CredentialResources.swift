public import Foundation
import WardenRegistry

/// `POST …/keys/rotate`.
struct RotateKeyRequest: APIRequestBody {
    static let fields: Set<String> = ["key"]
    let key: RegistryService.KeyRotation
}

/// `POST …/sas-tokens`.
struct IssueTokenRequest: APIRequestBody {
    static let fields: Set<String> = ["ttlSeconds"]
    let ttlSeconds: Int
}

/// A freshly issued device SAS token.
public struct TokenResource: Codable, Sendable {
    public let token: String
    public let expiresAt: Date
}

/// A device connection string in Azure's form.
public struct ConnectionStringResource: Codable, Sendable {
    public let connectionString: String
}
