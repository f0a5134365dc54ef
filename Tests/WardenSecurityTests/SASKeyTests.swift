import Crypto
import Foundation
import Testing

@testable import WardenSecurity

struct SASKeyTests {
    /// The pre-keyed states give exactly swift-crypto's HMAC-SHA256, for short, block-sized and long keys.
    @Test(arguments: [1, 16, 32, 63, 64, 65, 100])
    func equalsHMACSHA256(_ keyLength: Int) {
        for _ in 0..<20 {
            let key = SymmetricKey(data: (0..<keyLength).map { _ in UInt8.random(in: 0...255) })
            let resource = String((0..<Int.random(in: 0...120)).map { _ in "abc%2F-_.~XYZ".randomElement() ?? "a" })
            let expiry = UInt64.random(in: 0...UInt64.max)
            let expected = HMAC<SHA256>.authenticationCode(for: Data("\(resource)\n\(expiry)".utf8), using: key)
            #expect(Array(SASKey(key).authenticationCode(encodedResource: resource, expiry: expiry)) == Array(expected))
        }
    }
}
