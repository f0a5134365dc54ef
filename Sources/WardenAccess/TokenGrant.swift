public import Foundation

/// What a successful sign-in or token request returns (RFC 6749 §5.1).
public struct TokenGrant: Sendable {
    public let accessToken: String
    /// Nil for client credentials (RFC 6749 §4.4.3: no refresh token).
    public let refreshToken: String?
    public let expiresIn: Int
    /// The principal's id and name, for the audit record.
    public let subjectID: String
    public let subjectName: String
    /// When the user must choose a new password before doing anything else.
    public let mustChangePassword: Bool
}
