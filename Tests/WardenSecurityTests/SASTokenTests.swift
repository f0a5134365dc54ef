import Crypto
import Foundation
import Testing
import WardenCore

@testable import WardenSecurity

struct SASTokenTests {
    struct Vector: Decodable, Sendable, CustomTestStringConvertible {
        let resource: String
        let key: String
        let keyName: String?
        let expiry: UInt64
        let token: String
        var testDescription: String { resource + (keyName.map { " skn=\($0)" } ?? "") }
    }

    struct VectorFile: Decodable {
        let origin: String
        let vectors: [Vector]
    }

    static let sdkVectors: [Vector] = {
        guard let url = Bundle.module.url(forResource: "Vectors/azure-iot-device-2.14.0-sas", withExtension: "json"),
            let data = try? Data(contentsOf: url), let file = try? JSONDecoder().decode(VectorFile.self, from: data)
        else { return [] }
        return file.vectors
    }()

    private static func key(_ base64: String) -> SymmetricKey {
        SymmetricKey(data: Data(base64Encoded: base64) ?? Data())
    }

    @Test func vectorFileIsPresent() {
        #expect(Self.sdkVectors.count >= 7)
    }

    /// anchors.md §1.2: the documented algorithm with `quote_plus`-style upper-case escapes.
    @Test func anchorVectorSignsAsDocumented() {
        let token = SASTokenSigner.token(
            resource: "myhub.azure-devices.net/devices/device1",
            key: Self.key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="),
            expiry: 1_700_000_000)
        #expect(
            token == "SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdevice1"
                + "&sig=gFSfLGMXDOvf906%2FiaX3KwzLLNFHgaFZyCbsGjxtd1Y%3D&se=1700000000")
    }

    /// anchors.md §1.2: with lower-case `%2f` the string-to-sign differs, so does the signature; both verify.
    @Test func lowerCaseEncodingIsSignedAsTransmitted() throws {
        let key = Self.key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
        let signature = SASTokenSigner.sign(
            encodedResource: "myhub.azure-devices.net%2fdevices%2fdevice1", expiry: 1_700_000_000, key: key)
        #expect(signature == "iIyvul1z7xsjQDMXvGvUxZi+lqnXkFn5lOgyNrICYDM=")
        let token = try SASToken.parse(
            "SharedAccessSignature sr=myhub.azure-devices.net%2fdevices%2fdevice1&sig=\(SASTokenSigner.percentEncode(signature))&se=1700000000"
        )
        #expect(throws: Never.self) {
            try SASTokenVerifier.verify(
                token, resource: "myhub.azure-devices.net/devices/device1", primary: SASKey(key),
                secondary: SASKey(key),
                now: 1_600_000_000)
        }
    }

    @Test(arguments: sdkVectors)
    func signerMatchesTheSDK(_ vector: Vector) throws {
        let name = try vector.keyName.map { try PolicyName($0) }
        #expect(
            SASTokenSigner.token(
                resource: vector.resource, key: Self.key(vector.key), expiry: vector.expiry, keyName: name)
                == vector.token)
    }

    @Test(arguments: sdkVectors)
    func verifierAcceptsSDKTokens(_ vector: Vector) throws {
        let token = try SASToken.parse(vector.token)
        #expect(token.resource == vector.resource)
        #expect(token.keyName?.rawValue == vector.keyName)
        let resource = vector.keyName == nil ? vector.resource : vector.resource + "/devices/any-device"
        let matched = try SASTokenVerifier.verify(
            token, resource: resource, primary: SASKey(Self.key("AAAA")), secondary: SASKey(Self.key(vector.key)),
            now: vector.expiry - 1)
        #expect(matched == .secondary)
    }

    @Test(arguments: [
        ("", "does not start"), ("sharedaccesssignature sr=a&sig=b&se=1", "does not start"),
        ("SharedAccessSignature sr=a&se=1", "lacks"), ("SharedAccessSignature sr=a&sig=AAAA&se=1&sr=b", "repeats 'sr'"),
        ("SharedAccessSignature sr=a&sig=AAAA&se=1&foo=2", "unknown field"),
        ("SharedAccessSignature sr=&sig=AAAA&se=1", "empty 'sr'"),
        ("SharedAccessSignature sr=a&sig=AAAA&se=1", "not a base64 HMAC"),
        ("SharedAccessSignature sr=a&sig=%ZZ&se=1", "not a base64"),
        ("SharedAccessSignature sr=a&sig=gFSfLGMXDOvf906%2FiaX3KwzLLNFHgaFZyCbsGjxtd1Y%3D&se=-5", "'se'"),
        ("SharedAccessSignature sr=a&sig=gFSfLGMXDOvf906%2FiaX3KwzLLNFHgaFZyCbsGjxtd1Y%3D&se=1e9", "'se'"),
        (
            "SharedAccessSignature sr=a&sig=gFSfLGMXDOvf906%2FiaX3KwzLLNFHgaFZyCbsGjxtd1Y%3D&se=99999999999999999999999",
            "'se'"
        ),
        ("SharedAccessSignature sr=a&sig=gFSfLGMXDOvf906%2FiaX3KwzLLNFHgaFZyCbsGjxtd1Y%3D&se=1&", "without '='"),
        ("SharedAccessSignature " + String(repeating: "x", count: 5000), "longer than"),
    ])
    func parsingIsStrict(_ text: String, _ problem: String) {
        #expect {
            try SASToken.parse(text)
        } throws: { error in
            (error as? WardenError)?.code == .sasMalformed && (error as? WardenError)?.reason.contains(problem) == true
        }
    }

    @Test func printsRedacted() throws {
        let token = try SASToken.parse(Self.sdkVectors[0].token)
        #expect("\(token)" == "<redacted>")
        #expect(String(reflecting: token) == "<redacted>")
    }
}
