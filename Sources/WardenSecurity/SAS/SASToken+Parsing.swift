public import WardenCore

extension SASToken {
    private static let prefix = Array("SharedAccessSignature ".utf8)

    /// Parses a token strictly: the exact prefix, `sr`, `sig` and `se` once each, `skn` at most once, nothing
    /// else, a 32-byte base64 signature and a decimal expiry. Fails with `sas.malformed` naming the problem.
    ///
    /// Works on the UTF-8 bytes with no Foundation calls: it runs on every device connect.
    public static func parse(_ text: String) throws(WardenError) -> SASToken {
        guard text.utf8.count <= maximumLength else {
            throw malformed("is longer than \(maximumLength) bytes")
        }
        var text = text
        return try text.withUTF8 { bytes in Result { () throws(WardenError) in try parse(bytes) } }.get()
    }

    private static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(WardenError) -> SASToken {
        guard bytes.count > prefix.count, bytes.prefix(prefix.count).elementsEqual(prefix) else {
            throw malformed("does not start with 'SharedAccessSignature '")
        }
        var fields = Fields()
        var start = prefix.count
        while start <= bytes.count {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "&")) ?? bytes.count
            try fields.add(bytes[start..<end])
            start = end + 1
        }
        guard let sr = fields.sr, let sig = fields.sig, let se = fields.se else {
            throw malformed("lacks one of 'sr', 'sig' and 'se'")
        }
        guard let resourceBytes = percentDecoded(sr), let resource = String(validating: resourceBytes, as: UTF8.self)
        else { throw malformed("has a badly encoded 'sr'") }
        guard let signatureText = percentDecoded(sig), let signature = Base64.decode(signatureText),
            signature.count == 32
        else { throw malformed("has a 'sig' that is not a base64 HMAC-SHA256") }
        guard let expiry = decimal(se) else { throw malformed("has an 'se' that is not a number of seconds") }
        var keyName: PolicyName?
        if let skn = fields.skn {
            guard let nameBytes = percentDecoded(skn), let name = String(validating: nameBytes, as: UTF8.self) else {
                throw malformed("has a badly encoded 'skn'")
            }
            keyName = try PolicyName(name)
        }
        return SASToken(
            encodedResource: String(decoding: sr, as: UTF8.self), resource: resource, signature: signature,
            expiry: expiry, keyName: keyName)
    }

    /// The four fields a token may hold, each at most once.
    private struct Fields {
        var sr: Slice<UnsafeBufferPointer<UInt8>>?
        var sig: Slice<UnsafeBufferPointer<UInt8>>?
        var se: Slice<UnsafeBufferPointer<UInt8>>?
        var skn: Slice<UnsafeBufferPointer<UInt8>>?

        mutating func add(_ pair: Slice<UnsafeBufferPointer<UInt8>>) throws(WardenError) {
            guard let equals = pair.firstIndex(of: UInt8(ascii: "=")) else {
                throw malformed("has a field without '='")
            }
            let key = pair[..<equals]
            let value = pair[(equals + 1)...]
            let name = String(decoding: key, as: UTF8.self)
            guard !value.isEmpty else { throw malformed("has an empty '\(name)'") }
            switch name {
            case "sr": try Self.set(&sr, value, name)
            case "sig": try Self.set(&sig, value, name)
            case "se": try Self.set(&se, value, name)
            case "skn": try Self.set(&skn, value, name)
            default: throw malformed("has an unknown field '\(name)'")
            }
        }

        private static func set(
            _ field: inout Slice<UnsafeBufferPointer<UInt8>>?, _ value: Slice<UnsafeBufferPointer<UInt8>>,
            _ name: String
        ) throws(WardenError) {
            guard field == nil else { throw malformed("repeats '\(name)'") }
            field = value
        }
    }

    /// `%XX` escapes decoded (either case); a `%` without two hex digits gives nil. `+` stays `+`.
    private static func percentDecoded(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) -> [UInt8]? {
        guard case .bytes(let decoded) = PercentEncoding.decode(bytes) else { return nil }
        return decoded
    }

    /// Up to 20 ASCII digits that fit in 64 bits.
    private static func decimal(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) -> UInt64? {
        guard bytes.count <= 20 else { return nil }
        var value: UInt64 = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            // total: a digit's value, checked to be 0...9 just before.
            let (sum, overflow2) = times.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
        }
        return value
    }

    private static func malformed(_ problem: String) -> WardenError {
        WardenError(.sasMalformed, "The SAS token \(problem).")
    }
}
