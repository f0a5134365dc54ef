public import WardenAccess
public import WardenCore

/// Resolves a management bearer credential to a principal.
///
/// `AccessService` is the implementation: access tokens, API keys and the bootstrap credential.
public protocol ManagementAuthenticator: Sendable {
    /// The principal `credential` belongs to, or nil when it is not valid.
    func principal(forBearer credential: Substring) async -> Principal?
}

extension AccessService: ManagementAuthenticator {}
