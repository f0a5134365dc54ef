import Foundation

/// Message bodies in JSON: the text when it is UTF-8, else base64, with the encoding named beside it.
enum MessageBody {
    static func text(_ bytes: [UInt8]) -> (body: String, encoding: String) {
        if let text = String(validating: bytes, as: UTF8.self) { return (text, "utf-8") }
        return (Data(bytes).base64EncodedString(), "base64")
    }
}
