import Testing
import WardenCore

struct SecretBytesTests {
    @Test func neverPrintsItsBytes() {
        let secret = SecretBytes(Array("hunter2".utf8))
        #expect("\(secret)" == "<redacted>")
        #expect(String(reflecting: secret) == "<redacted>")
        #expect(!"\(SASKeyPair.random())".contains(SASKeyPair.random().primary.base64))
    }

    @Test func randomKeysDiffer() {
        #expect(SecretBytes.random(count: 32).base64 != SecretBytes.random(count: 32).base64)
        #expect(SecretBytes.random(count: 32).bytes.count == 32)
    }

    /// Drawn eight bytes at a time: every length comes out exact, and the last draw's bytes are used too.
    @Test(arguments: [0, 1, 6, 7, 8, 9, 16, 33])
    func randomBytesHaveTheAskedLength(count: Int) {
        #expect(SecretBytes.random(count: count).bytes.count == count)
        guard count >= 6 else { return }
        // 48 random bits or more: equal twice would take astronomically long odds.
        #expect(SecretBytes.random(count: count).bytes != SecretBytes.random(count: count).bytes)
        let tails = Set((0..<64).map { _ in SecretBytes.random(count: count).bytes.last })
        #expect(tails.count > 16)
    }

    @Test func thumbprintsNormalize() throws {
        let sha1 = try Thumbprint("ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01")
        #expect(sha1.rawValue == "ABCDEF0123456789ABCDEF0123456789ABCDEF01")
        #expect(sha1.algorithm == .sha1)
        #expect(try Thumbprint(String(repeating: "a", count: 64)).algorithm == .sha256)
        #expect(throws: WardenError(.thumbprintInvalid, "")) { try Thumbprint("xyz") }
        #expect(throws: WardenError(.thumbprintInvalid, "")) { try Thumbprint(String(repeating: "g", count: 40)) }
    }
}
