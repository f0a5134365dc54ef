import Foundation
import FuzzDriver
import WardenCore

/// Durations and time bounds as people type them in queries and CLI flags (`15m`, `2h`, ISO 8601 times).
///
/// Invariants besides not crashing: a duration is finite and within 0…100 years, and an age bound lies
/// between now minus that and now.
private let now = Date(timeIntervalSince1970: 1_800_000_000)

/// The executable's entry point (SwiftPM's name for `main`): libFuzzer's driver with this target's input.
@_cdecl("TimeTextFuzzer_main")
public func runFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    warden_fuzz_run(argc, argv) { data, size in fuzz(data, size) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let seconds = DurationText.seconds(text) {
        precondition(seconds.isFinite && (0...DurationText.maximumSeconds).contains(seconds), "out of bounds")
        if !text.contains("T"), let bound = try? TimeBound.milliseconds(text, name: "from", now: now) {
            precondition(bound <= now.unixMilliseconds, "an age lies before now")
        }
    }
    _ = try? TimeBound.milliseconds(text, name: "from", now: now)
    return 0
}
