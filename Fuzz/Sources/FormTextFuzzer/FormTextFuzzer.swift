import FuzzDriver
import WardenCore

/// What HTTP clients send as text the API decodes itself: the first byte chooses percent-decoding (SAS tokens,
/// path segments), a form body (OAuth2 token requests, portal forms) or a page cursor (`?cursor=`); the rest
/// is the text.
///
/// Invariants besides not crashing: decoded text encodes to text that decodes to it again; a form's fields
/// written back as a form read as the same fields; a cursor's key is the key of the cursor written for it.
@_cdecl("FormTextFuzzer_main")
public func runFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    warden_fuzz_run(argc, argv) { data, size in fuzz(data, size) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let bytes = UnsafeBufferPointer(start: data + 1, count: size - 1)
    let text = String(decoding: bytes, as: UTF8.self)
    switch data[0] % 3 {
    case 0:
        if let decoded = PercentEncoding.decodeText(text) {
            precondition(PercentEncoding.decodeText(PercentEncoding.encode(decoded)) == decoded, "percent round trip")
        }
    case 1:
        if let fields = FormEncoding.fields(text) {
            let written = fields.map { "\(FormEncoding.encoded($0.key))=\(FormEncoding.encoded($0.value))" }
            precondition(FormEncoding.fields(written.joined(separator: "&")) == fields, "form round trip")
        }
    default:
        if let key = try? PageCursor.decode(text) {
            precondition((try? PageCursor.decode(PageCursor.encode(key)!)) == key, "cursor round trip")
        }
    }
    return 0
}
