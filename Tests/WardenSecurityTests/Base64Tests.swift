import Foundation
import Testing

@testable import WardenSecurity

struct Base64Tests {
    @Test(arguments: ["", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "gFSfLGMXDOvf906/iaX3KwzLLNFHgaFZyCbsGjxtd1Y="])
    func decodesLikeFoundation(_ text: String) {
        #expect(Base64.decode(Array(text.utf8)) == (text.isEmpty ? nil : Data(base64Encoded: text).map(Array.init)))
    }

    @Test(arguments: ["Zg", "Zg=", "Z===", "Zh==", "Zm9=", "Zm9v\n", "Zm 9", "=Zm9", "Zm=v", "Zm9v====", "Zg==Zg=="])
    func refusesNonCanonicalInput(_ text: String) {
        #expect(Base64.decode(Array(text.utf8)) == nil)
    }
}
