import NIOCore

extension ByteBuffer {
    /// A buffer from hex digits (spaces ignored), for vectors.
    init(hex: String) {
        let digits = Array(hex.utf8.filter { $0 != UInt8(ascii: " ") })
        var bytes: [UInt8] = []
        var index = 0
        while index + 1 < digits.count {
            bytes.append(UInt8(String(decoding: digits[index...index + 1], as: UTF8.self), radix: 16) ?? 0)
            index += 2
        }
        self.init(bytes: bytes)
    }

    var hex: String {
        readableBytesView.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
            .joined()
    }
}
