import Foundation
import JWTKit
import Testing
import WardenCore

@testable import WardenSecurity

struct PasswordHasherTests {
    let hasher = PasswordHasher(cost: .init(rounds: 1 << 10, blockSize: 8, parallelism: 1))
    let password = SecretBytes(Array("correct horse battery".utf8))

    @Test func verifiesOnlyTheSamePassword() throws {
        let stored = try hasher.hash(password)
        #expect(stored.hasPrefix("scrypt$1024$8$1$"))
        #expect(!stored.contains("correct"))
        #expect(hasher.verify(password, against: stored))
        #expect(!hasher.verify(SecretBytes(Array("correct horse battery!".utf8)), against: stored))
        #expect(!hasher.verify(SecretBytes([]), against: stored))
    }

    @Test func saltsEachHash() throws {
        #expect(try hasher.hash(password) != hasher.hash(password))
    }

    @Test func malformedStoredFormsNeverMatch() throws {
        let stored = try hasher.hash(password)
        let parts = stored.split(separator: "$").map(String.init)
        let broken = [
            "", "scrypt", "bcrypt$1024$8$1$\(parts[4])$\(parts[5])", "scrypt$1000$8$1$\(parts[4])$\(parts[5])",
            "scrypt$1024$8$1$\(parts[4])$AAAA", "scrypt$1024$0$1$\(parts[4])$\(parts[5])",
            "scrypt$1024$8$1$\(parts[4])$\(parts[5])$extra",
        ]
        for form in broken { #expect(!hasher.verify(password, against: form), "\(form)") }
    }

    @Test func oldCostsStillVerifyAndAskForARehash() throws {
        let cheaper = PasswordHasher(cost: .init(rounds: 1 << 4, blockSize: 8, parallelism: 1))
        let stored = try cheaper.hash(password)
        #expect(hasher.verify(password, against: stored))
        #expect(hasher.needsRehash(stored))
        #expect(!hasher.needsRehash(try hasher.hash(password)))
    }
}

struct TOTPTests {
    /// RFC 6238 appendix B, SHA-1 rows, last six digits of the eight given there.
    @Test(arguments: [
        (59.0, "287082"), (1_111_111_109, "081804"), (1_111_111_111, "050471"), (1_234_567_890, "005924"),
        (2_000_000_000, "279037"), (20_000_000_000, "353130"),
    ])
    func matchesTheRFCVectors(time: Double, code: String) {
        let totp = TOTP(secret: SecretBytes(Array("12345678901234567890".utf8)))
        #expect(totp.code(forStep: TOTP.timeStep(at: Date(timeIntervalSince1970: time))) == code)
    }

    @Test func acceptsOneStepOfDriftAndNeverTheSameStepTwice() {
        let totp = TOTP.generate()
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        let step = TOTP.timeStep(at: now)
        #expect(totp.acceptedStep(for: totp.code(forStep: step), at: now, after: nil) == step)
        #expect(totp.acceptedStep(for: totp.code(forStep: step - 1), at: now, after: nil) == step - 1)
        #expect(totp.acceptedStep(for: totp.code(forStep: step + 1), at: now, after: nil) == step + 1)
        #expect(totp.acceptedStep(for: totp.code(forStep: step - 2), at: now, after: nil) == nil)
        #expect(totp.acceptedStep(for: totp.code(forStep: step), at: now, after: step) == nil)
        #expect(totp.acceptedStep(for: "12345", at: now, after: nil) == nil)
        #expect(totp.acceptedStep(for: "abcdef", at: now, after: nil) == nil)
    }

    @Test func provisioningURIHasTheBase32Secret() {
        let totp = TOTP(secret: SecretBytes(Array("12345678901234567890".utf8)))
        #expect(totp.base32Secret == "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
        #expect(
            totp.provisioningURI(account: "ada@example", issuer: "Warden")
                == "otpauth://totp/Warden%3Aada%40example?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Warden&algorithm=SHA1&digits=6&period=30"
        )
    }
}

struct AccessTokenTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func claims(expiresIn seconds: TimeInterval = 900) -> AccessTokenClaims {
        AccessTokenClaims(
            subject: "usr_1", kind: "user", session: "family", issuedAt: now,
            expiresAt: now.addingTimeInterval(seconds), id: "jti")
    }

    @Test func signsAndVerifies() async throws {
        let authority = try await AccessTokenAuthority(keys: [.generate()])
        let token = try await authority.sign(claims())
        #expect(token.split(separator: ".").count == 3)
        let verified = try await authority.verify(token, now: now.addingTimeInterval(60))
        #expect(verified.subject == "usr_1" && verified.kind == "user" && verified.session == "family")
    }

    @Test func refusesExpiredTamperedAndForeignTokens() async throws {
        let authority = try await AccessTokenAuthority(keys: [.generate()])
        let token = try await authority.sign(claims())
        await #expect(throws: WardenError(.authInvalidCredential, "")) {
            try await authority.verify(token, now: now.addingTimeInterval(901))
        }
        var parts = token.split(separator: ".").map(String.init)
        let payload = Data(base64Encoded: Self.padded(parts[1]))!
        let forged = String(decoding: payload, as: UTF8.self).replacingOccurrences(of: "usr_1", with: "usr_2")
        parts[1] = Data(forged.utf8).base64URL
        await #expect(throws: WardenError(.authInvalidCredential, "")) {
            try await authority.verify(parts.joined(separator: "."), now: now)
        }
        let other = try await AccessTokenAuthority(keys: [.generate()])
        await #expect(throws: WardenError(.authInvalidCredential, "")) {
            try await other.verify(token, now: now)
        }
        await #expect(throws: WardenError(.authInvalidCredential, "")) {
            try await authority.verify("not.a.token", now: now)
        }
    }

    @Test func olderKeysStillVerifyAfterRotation() async throws {
        let old = AccessTokenKey.generate()
        let token = try await AccessTokenAuthority(keys: [old]).sign(claims())
        let rotated = try await AccessTokenAuthority(keys: [.generate(), old])
        #expect(try await rotated.verify(token, now: now).subject == "usr_1")
        let newToken = try await rotated.sign(claims())
        await #expect(throws: WardenError(.authInvalidCredential, "")) {
            try await AccessTokenAuthority(keys: [old]).verify(newToken, now: now)
        }
    }

    static func padded(_ text: String) -> String {
        let standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        return standard + String(repeating: "=", count: (4 - standard.count % 4) % 4)
    }
}

struct AccessTokenAudienceTests {
    struct Foreign: JWTPayload {
        var iss: IssuerClaim
        var aud: AudienceClaim
        var sub: SubjectClaim
        var iat: IssuedAtClaim
        var exp: ExpirationClaim
        var jti: IDClaim
        var typ: String
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    @Test(arguments: [("warden", "another-api"), ("someone-else", "warden-api")])
    func refusesATokenForAnotherAudienceOrIssuer(issuer: String, audience: String) async throws {
        let key = AccessTokenKey.generate()
        let keys = JWTKeyCollection()
        await keys.add(ecdsa: try ES256PrivateKey(backing: key.privateKey), kid: JWKIdentifier(string: key.id))
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let token = try await keys.sign(
            Foreign(
                iss: .init(value: issuer), aud: .init(value: [audience]), sub: .init(value: "usr_1"),
                iat: .init(value: now), exp: .init(value: now.addingTimeInterval(900)), jti: .init(value: "x"),
                typ: "user"), kid: JWKIdentifier(string: key.id))
        await #expect(throws: WardenError(.authInvalidCredential, "")) {
            try await AccessTokenAuthority(keys: [key]).verify(token, now: now)
        }
    }
}
