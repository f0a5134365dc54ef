import Foundation
import FuzzDriver
import WardenCore
import WardenDefender
import WardenSecurity

/// What the Defender reads from outside: a tenant's rules document, the MQTT username a device's client library
/// is read from, a topic as the Defender keys it, and a backup archive (`warden backup restore` reads any file it
/// is given). The first byte chooses.
///
/// Invariants besides not crashing: rules that read are read again from their own document to the same rules;
/// a client library is printable ASCII of at most 128 characters; a topic key is at most 256 bytes; an archive
/// that opens under the fixed key yields records only in order (a file before its data, nothing after the end).
private let masterKey = try! MasterKey(base64: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")

@_cdecl("DefenderFuzzer_main")
public func runFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    warden_fuzz_run(argc, argv) { data, size in fuzz(data, size) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let rest = Array(bytes.dropFirst())
    let text = String(decoding: rest, as: UTF8.self)
    switch bytes[0] % 3 {
    case 0:
        if let rules = try? DeviceRules().applying(text) {
            let again = String(decoding: (try? JSONEncoder().encode(rules.document)) ?? Data(), as: UTF8.self)
            precondition((try? DeviceRules().applying(again)) == rules, "rules read back differently")
        }
    case 1:
        if let library = DeviceConnection.clientLibrary(inUsername: text) {
            precondition(library.count <= DeviceConnection.maximumClientLibrary, "too long")
            precondition(library.unicodeScalars.allSatisfy { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F })
        }
        precondition(DeviceActivity.topicKey(text).utf8.count <= DeviceActivity.maximumTopicBytes, "key too long")
    default:
        var reader = BackupArchive.Reader { _, _ throws(WardenError) in .masterKey(masterKey) }
        var sawFile = false
        var ended = false
        // Fed in two pieces, as a file is read in chunks.
        for piece in [rest.prefix(rest.count / 2), rest.dropFirst(rest.count / 2)] {
            guard let records = try? reader.feed(piece) else { return 0 }
            for record in records {
                precondition(!ended, "a record after the end")
                switch record {
                case .file: sawFile = true
                case .data: precondition(sawFile, "data before any file")
                case .end: ended = true
                }
            }
        }
    }
    return 0
}
