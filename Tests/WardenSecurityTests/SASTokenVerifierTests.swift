import Crypto
import Foundation
import Testing
import WardenCore

@testable import WardenSecurity

struct SASTokenVerifierTests {
    let primaryKey = SymmetricKey(size: .bits256)
    let secondaryKey = SymmetricKey(size: .bits256)
    var primary: SASKey { SASKey(primaryKey) }
    var secondary: SASKey { SASKey(secondaryKey) }
    let resource = "hub.example/devices/dev-1"

    private func token(_ scope: String, key: SymmetricKey, expiry: UInt64 = 2_000) throws -> SASToken {
        try SASToken.parse(SASTokenSigner.token(resource: scope, key: key, expiry: expiry))
    }

    @Test func acceptsPrimaryThenSecondary() throws {
        #expect(
            try SASTokenVerifier.verify(
                token(resource, key: primaryKey), resource: resource, primary: primary, secondary: secondary, now: 1_000
            )
                == .primary)
        #expect(
            try SASTokenVerifier.verify(
                token(resource, key: secondaryKey), resource: resource, primary: primary, secondary: secondary,
                now: 1_000)
                == .secondary)
    }

    @Test func refusesOtherKeys() throws {
        #expect(throws: WardenError(.sasSignatureMismatch, "")) {
            try SASTokenVerifier.verify(
                token(resource, key: SymmetricKey(size: .bits256)), resource: resource, primary: primary,
                secondary: secondary, now: 1_000)
        }
    }

    @Test func expiredTokenIsRefused() throws {
        let expired = try token(resource, key: primaryKey, expiry: 1_000)
        #expect(throws: WardenError(.sasExpired, "")) {
            try SASTokenVerifier.verify(expired, resource: resource, primary: primary, secondary: secondary, now: 1_000)
        }
    }

    @Test(arguments: [
        ("hub.example/devices/dev-1", true), ("hub.example/devices", true), ("hub.example", true),
        ("HUB.Example/devices/dev-1", true),
        ("hub.example/devices/dev-1/", true), ("hub.example/devices/dev", false), ("hub.example/devices/dev-10", false),
        ("hub.example/devices/DEV-1", false), ("other.example/devices/dev-1", false),
        ("hub.example/devices/dev-1/modules/m", false),
        ("hub.example/dev", false),
    ])
    func scopeIsASegmentPrefix(_ scope: String, _ accepted: Bool) {
        #expect(SASTokenVerifier.isSegmentPrefix(scope, of: resource) == accepted)
    }

    @Test func tamperedResourceFailsTheSignature() throws {
        let genuine = SASTokenSigner.token(resource: "hub.example/devices/dev-10", key: primaryKey, expiry: 2_000)
        let forged = try SASToken.parse(genuine.replacingOccurrences(of: "dev-10", with: "dev-1"))
        #expect(throws: WardenError(.sasSignatureMismatch, "")) {
            try SASTokenVerifier.verify(forged, resource: resource, primary: primary, secondary: secondary, now: 1_000)
        }
    }
}
