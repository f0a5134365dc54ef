import Testing
import WardenCore
import WardenSecurity

struct BearerCredentialTests {
    @Test func matchesOnlyItself() {
        let credential = BearerCredential.generate()
        let hash = BearerCredential.hash(credential)
        let text = String(decoding: credential.bytes, as: UTF8.self)
        #expect(text.hasPrefix("wdn_") && text.count == 47)
        #expect(BearerCredential.matches(text, storedHash: hash))
        #expect(!BearerCredential.matches(text.dropLast(), storedHash: hash))
        #expect(!BearerCredential.matches("", storedHash: hash))
        #expect(!hash.elementsEqual(credential.bytes))
    }
}
