import Foundation
import FuzzDriver
import WardenCore
import WardenHub

/// JSON from outside: the structure scan that runs before any parser, twin patches with IoT Hub's rules, and
/// the merge that applies them.
///
/// Invariants besides not crashing: when the scan accepts a document that Foundation parses, the parsed
/// value's depth and member count are within the limits (the scan never under-counts); a patch that is
/// accepted merges into a section whose version advances by one.
private let limits = JSONLimits(maximumDepth: 8, maximumMembers: 64)

/// The executable's entry point (SwiftPM's name for `main`): libFuzzer's driver with this target's input.
@_cdecl("JSONFuzzer_main")
public func runFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    warden_fuzz_run(argc, argv) { data, size in fuzz(data, size) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if (try? JSONStructure.check(bytes, limits)) != nil,
        let value = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    {
        let (depth, members) = measure(value)
        precondition(depth <= limits.maximumDepth && members <= limits.maximumMembers, "the scan under-counted")
    }
    if let patch = try? TwinService.patch(bytes) {
        var section = DeviceTwin.Section()
        section.apply(patch, at: 1)
        section.apply(patch, at: 2)
        precondition(section.version == 2, "each patch is one version")
        _ = try? JSONEncoder().encode(section.properties)
    }
    return 0
}

/// Depth (the outermost container is 1) and members plus elements, by an explicit stack.
private func measure(_ value: JSONValue) -> (depth: Int, members: Int) {
    var deepest = 0
    var members = 0
    var pending: [(JSONValue, Int)] = [(value, 0)]
    while let (value, depth) = pending.popLast() {
        switch value {
        case .object(let fields):
            deepest = max(deepest, depth + 1)
            members += fields.count
            pending.append(contentsOf: fields.values.map { ($0, depth + 1) })
        case .array(let elements):
            deepest = max(deepest, depth + 1)
            members += elements.count
            pending.append(contentsOf: elements.map { ($0, depth + 1) })
        default:
            break
        }
    }
    return (deepest, members)
}
