import Crypto
import ExtrasBase64
public import Foundation
import JWTKit
public import WardenCore

/// What a Warden access token says: who (`sub`), what kind of principal, which sign-in session it came from,
/// and when it ends. The audience is always `warden-api`.
public struct AccessTokenClaims: Sendable, Hashable, Codable {
    /// The user or service principal id.
    public let subject: String
    /// `user` or `service`.
    public let kind: String
    /// The refresh-token family (one per sign-in), so that revoking a session stops its access tokens too.
    public let session: String?
    public let issuedAt: Date
    public let expiresAt: Date
    /// A unique id per token.
    public let id: String

    public init(subject: String, kind: String, session: String?, issuedAt: Date, expiresAt: Date, id: String) {
        self.subject = subject
        self.kind = kind
        self.session = session
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.id = id
    }
}

/// A P-256 key that signs access tokens, named by its key id (`kid`).
public struct AccessTokenKey: Sendable {
    public let id: String
    let privateKey: P256.Signing.PrivateKey

    init(id: String, privateKey: P256.Signing.PrivateKey) {
        self.id = id
        self.privateKey = privateKey
    }

    /// A new key from the OS CSPRNG with a random key id.
    public static func generate() -> AccessTokenKey {
        AccessTokenKey(id: Data(SecretBytes.random(count: 9).bytes).base64URL, privateKey: P256.Signing.PrivateKey())
    }

    /// The raw private scalar, to be sealed by the store.
    public var secret: SecretBytes { SecretBytes(Array(privateKey.rawRepresentation)) }

    /// Rebuilds a key from its sealed raw form.
    public init(id: String, secret: SecretBytes) throws(WardenError) {
        do {
            self.init(id: id, privateKey: try P256.Signing.PrivateKey(rawRepresentation: secret.bytes))
        } catch {
            throw WardenError(.internalError, "The access-token key \(id) cannot be read.")
        }
    }
}

/// Signs and verifies Warden's access tokens: ES256 JWTs (RFC 7519) via jwt-kit.
///
/// The newest key signs; older ones still verify, so rotating the key does not sign anyone out.
public struct AccessTokenAuthority: Sendable {
    /// The `iss` and `aud` every token carries.
    public static let issuer = "warden"
    public static let audience = "warden-api"

    private let keys: JWTKeyCollection
    private let signingKeyID: String

    /// `keys` newest first; the first one signs.
    public init(keys: [AccessTokenKey]) async throws(WardenError) {
        guard let newest = keys.first else { throw WardenError(.internalError, "No access-token key.") }
        let collection = JWTKeyCollection()
        for key in keys {
            do {
                await collection.add(
                    ecdsa: try ES256PrivateKey(backing: key.privateKey), kid: JWKIdentifier(string: key.id))
            } catch {
                throw WardenError(.internalError, "The access-token key \(key.id) cannot be used.")
            }
        }
        self.keys = collection
        self.signingKeyID = newest.id
    }

    /// A signed token for `claims`.
    public func sign(_ claims: AccessTokenClaims) async throws(WardenError) -> String {
        do {
            return try await keys.sign(Payload(claims), kid: JWKIdentifier(string: signingKeyID))
        } catch {
            throw WardenError(.internalError, "An access token cannot be signed: \(error).")
        }
    }

    /// The claims of `token` when its signature, issuer and audience hold and it has not expired at `now`;
    /// `auth.invalid_credential` otherwise (the message says which, for the operator's log only).
    public func verify(_ token: some StringProtocol, now: Date) async throws(WardenError) -> AccessTokenClaims {
        let payload: Payload
        do {
            payload = try await keys.verify(Array(token.utf8), as: Payload.self)
        } catch {
            throw WardenError(.authInvalidCredential, "The access token's signature does not verify.")
        }
        guard payload.iss.value == Self.issuer, payload.aud.value == [Self.audience] else {
            throw WardenError(.authInvalidCredential, "The access token is not for this API.")
        }
        guard payload.exp.value > now else {
            throw WardenError(.authInvalidCredential, "The access token has expired.")
        }
        return AccessTokenClaims(
            subject: payload.sub.value, kind: payload.typ, session: payload.sid, issuedAt: payload.iat.value,
            expiresAt: payload.exp.value, id: payload.jti.value)
    }

    /// The wire form: registered claim names (RFC 7519 §4.1) plus `typ` and `sid`.
    private struct Payload: JWTPayload {
        var iss: IssuerClaim
        var aud: AudienceClaim
        var sub: SubjectClaim
        var iat: IssuedAtClaim
        var exp: ExpirationClaim
        var jti: IDClaim
        var typ: String
        var sid: String?

        init(_ claims: AccessTokenClaims) {
            iss = IssuerClaim(value: AccessTokenAuthority.issuer)
            aud = AudienceClaim(value: [AccessTokenAuthority.audience])
            sub = SubjectClaim(value: claims.subject)
            iat = IssuedAtClaim(value: claims.issuedAt)
            exp = ExpirationClaim(value: claims.expiresAt)
            jti = IDClaim(value: claims.id)
            typ = claims.kind
            sid = claims.session
        }

        // Time, issuer and audience are checked by `verify(_:now:)` against Warden's clock.
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }
}

extension Data {
    /// Base64url without padding (RFC 4648 §5), for ids and tokens in URLs and headers.
    public var base64URL: String {
        String(base64Encoding: self, options: [.base64UrlAlphabet, .omitPaddingCharacter])
    }
}
