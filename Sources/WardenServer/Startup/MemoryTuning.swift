import CWardenAllocator

/// How the process asks glibc's allocator to behave, set once at start.
///
/// Every TLS connection gets a 32 KiB plaintext read buffer from swift-nio-ssl, of which a connection with small
/// packets touches a page or two. From glibc's arenas those chunks are recycled across connections, and with
/// every reconnect another part of them is touched, so resident memory creeps towards everything ever
/// allocated (the soak: +10 MiB a minute at 20 reconnects a second, with the live heap flat under heaptrack).
/// Served by `mmap` from 32 KiB up, a closed connection's buffer goes back to the system at once and a new
/// one costs only the pages it touches. Smaller allocations, the hot path's, stay in the arenas.
enum MemoryTuning {
    static let mmapThreshold: Int32 = 32 * 1024

    /// Whether the C library took the setting (glibc does; others have no such knob).
    @discardableResult
    static func apply() -> Bool {
        warden_set_mmap_threshold(mmapThreshold) == 1
    }
}
