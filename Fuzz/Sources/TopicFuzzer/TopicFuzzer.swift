import FuzzDriver
import WardenBroker
import WardenMQTT

/// Topic names and filters, and the subscription trie that routes by them.
///
/// The input is split at its first NUL into a filter and a topic. Invariants besides not crashing: the trie
/// matches exactly when `TopicFilter.matches` does, and removing the subscription empties the trie.
/// The executable's entry point (SwiftPM's name for `main`): libFuzzer's driver with this target's input.
@_cdecl("TopicFuzzer_main")
public func runFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    warden_fuzz_run(argc, argv) { data, size in fuzz(data, size) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let split = bytes.firstIndex(of: 0) ?? bytes.count
    let filterText = String(decoding: bytes[..<split], as: UTF8.self)
    let topic = String(decoding: bytes[min(split + 1, bytes.count)...], as: UTF8.self)
    _ = TopicName.isValid(topic)
    guard let filter = try? TopicFilter(filterText) else { return 0 }
    var trie = SubscriptionTrie<Int, Int>()
    trie.insert(filter.filter, subscriber: 1, value: 1)
    var found = 0
    trie.forEachMatch(topic) { _, _ in found += 1 }
    if TopicName.isValid(topic) {
        precondition((found == 1) == filter.matches(topic), "the trie and the filter disagree")
    }
    precondition(trie.remove(filter.filter, subscriber: 1) && trie.count == 0, "removal left something")
    return 0
}
