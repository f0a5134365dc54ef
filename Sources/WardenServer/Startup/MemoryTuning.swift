import CWardenAllocator

/// How the process asks glibc's allocator to behave, set once at start.
///
/// Every TLS connection gets buffers from swift-nio-ssl that it mostly never touches: a 32 KiB plaintext read
/// buffer and a 16 KiB outbound buffer. From glibc's arenas those chunks are recycled across connections and
/// every reconnect touches other pages of them, so resident memory creeps towards everything ever allocated
/// (the soak: +10 MiB a minute at 20 reconnects a second, with the live heap flat under heaptrack). Served by
/// `mmap` from 16 KiB up, a closed connection's buffers go back to the system at once and a new one costs only
/// the pages it touches (bench/soak probes: RSS growth 21 MiB → 1.3 MiB over 130 s; QoS 1 telemetry over TLS
/// unchanged within noise). Smaller allocations, most of the packet path's, stay in the arenas.
enum MemoryTuning {
    static let mmapThreshold: Int32 = 16 * 1024

    /// Whether the C library took the setting (glibc does; others have no such knob).
    @discardableResult
    static func apply() -> Bool {
        warden_set_mmap_threshold(mmapThreshold) == 1
    }
}
