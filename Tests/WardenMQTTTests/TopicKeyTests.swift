import Testing
import WardenMQTT

/// Topics are told apart as MQTT tells them apart: by their bytes, not by Unicode's canonical equivalence.
struct TopicKeyTests {
    @Test func equalBytesAreEqualKeys() {
        let built = "devices/" + String(repeating: "d", count: 3) + "/messages/events/"
        #expect(TopicKey(built) == TopicKey("devices/ddd/messages/events/"))
        #expect(Set([TopicKey(built), TopicKey("devices/ddd/messages/events/")]).count == 1)
    }

    @Test func canonicallyEquivalentTextWithOtherBytesIsAnotherTopic() {
        let composed = "caf\u{E9}"  // é as one scalar
        let decomposed = "cafe\u{301}"  // e and a combining accent
        #expect(composed == decomposed)  // Swift's String equality
        #expect(TopicKey(composed) != TopicKey(decomposed))
        #expect(Set([TopicKey(composed), TopicKey(decomposed)]).count == 2)
    }

    @Test func keysOfTheSameLengthDifferingInTheLastByteDiffer() {
        #expect(TopicKey("a/b/c") != TopicKey("a/b/d"))
        #expect(TopicKey("") == TopicKey(""))
    }
}
