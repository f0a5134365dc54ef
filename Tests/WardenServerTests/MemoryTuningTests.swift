import Testing

@testable import WardenServer

/// The allocator setting reaches glibc (a header guard once compiled it away without a word).
struct MemoryTuningTests {
    #if os(Linux)
        @Test func glibcTakesTheMmapThreshold() {
            #expect(MemoryTuning.apply())
        }
    #endif
}
