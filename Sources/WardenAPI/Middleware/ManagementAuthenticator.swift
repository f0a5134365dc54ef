public import WardenCore

/// Resolves a management bearer credential to a principal.
///
/// The foundation's implementation knows the bootstrap admin credential; the identity issue adds users' access
/// tokens and API keys behind the same seam.
public protocol ManagementAuthenticator: Sendable {
    /// The principal `credential` belongs to, or nil when it is not valid.
    func principal(forBearer credential: Substring) async -> Principal?
}
