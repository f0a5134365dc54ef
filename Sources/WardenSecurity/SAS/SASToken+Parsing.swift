import Foundation
public import WardenCore

extension SASToken {
    private static let prefix = "SharedAccessSignature "

    /// Parses a token strictly: the exact prefix, `sr`, `sig` and `se` once each, `skn` at most once, nothing
    /// else, a 32-byte base64 signature and a decimal expiry. Fails with `sas.malformed` naming the problem.
    public static func parse(_ text: String) throws(WardenError) -> SASToken {
        guard text.utf8.count <= maximumLength else {
            throw malformed("is longer than \(maximumLength) bytes")
        }
        guard text.hasPrefix(prefix) else {
            throw malformed("does not start with 'SharedAccessSignature '")
        }
        var fields: [Substring: Substring] = [:]
        for pair in text.dropFirst(prefix.count).split(separator: "&", omittingEmptySubsequences: false) {
            guard let equals = pair.firstIndex(of: "=") else { throw malformed("has a field without '='") }
            let key = pair[..<equals]
            let value = pair[pair.index(after: equals)...]
            guard ["sr", "sig", "se", "skn"].contains(key) else { throw malformed("has an unknown field '\(key)'") }
            guard !value.isEmpty else { throw malformed("has an empty '\(key)'") }
            guard fields.updateValue(value, forKey: key) == nil else { throw malformed("repeats '\(key)'") }
        }
        guard let sr = fields["sr"], let sig = fields["sig"], let se = fields["se"] else {
            throw malformed("lacks one of 'sr', 'sig' and 'se'")
        }
        guard let resource = String(sr).removingPercentEncoding else { throw malformed("has a badly encoded 'sr'") }
        guard let signatureText = String(sig).removingPercentEncoding,
            let signature = Data(base64Encoded: signatureText), signature.count == 32
        else { throw malformed("has a 'sig' that is not a base64 HMAC-SHA256") }
        guard se.count <= 20, se.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let expiry = UInt64(se) else {
            throw malformed("has an 'se' that is not a number of seconds")
        }
        var keyName: PolicyName?
        if let skn = fields["skn"] {
            guard let name = String(skn).removingPercentEncoding else { throw malformed("has a badly encoded 'skn'") }
            keyName = try PolicyName(name)
        }
        return SASToken(
            encodedResource: String(sr), resource: resource, signature: Array(signature), expiry: expiry,
            keyName: keyName)
    }

    private static func malformed(_ problem: String) -> WardenError {
        WardenError(.sasMalformed, "The SAS token \(problem).")
    }
}
