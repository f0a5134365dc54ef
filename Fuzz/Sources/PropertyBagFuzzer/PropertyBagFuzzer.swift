import FuzzDriver
import WardenAzure

/// The property bag at the end of telemetry and cloud-to-device topics (`a=1&%24.mid=m`).
///
/// Invariant besides not crashing: a bag that parses formats to text that parses to the same properties.
/// The executable's entry point (SwiftPM's name for `main`): libFuzzer's driver with this target's input.
@_cdecl("PropertyBagFuzzer_main")
public func runFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    warden_fuzz_run(argc, argv) { data, size in fuzz(data, size) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let bag = try? PropertyBag(parsing: Substring(text)) {
        guard let again = try? PropertyBag(parsing: Substring(bag.text)) else {
            preconditionFailure("a formatted bag must parse")
        }
        precondition(again == bag, "format then parse changed the bag")
    }
    return 0
}
