import Crypto
import Foundation
import FuzzDriver
import WardenCore

@testable import WardenSecurity

/// The SAS token parser and verifier, with a fixed key so that signatures over odd fields are valid and the
/// verifier's expiry and scope checks are reached, not only its signature check.
///
/// Invariants besides not crashing: a token that parses, re-signed with the key over its own `sr` and `se`,
/// parses again to the same fields and verifies for its own resource (when not expired and not empty); and the signer's
/// tokens for any resource text parse back to that resource.
private let key = SymmetricKey(data: Array(repeating: UInt8(7), count: 32))
private let sasKey = SASKey(key)

/// The executable's entry point (SwiftPM's name for `main`): libFuzzer's driver with this target's input.
@_cdecl("SASTokenFuzzer_main")
public func runFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    warden_fuzz_run(argc, argv) { data, size in fuzz(data, size) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let token = try? SASToken.parse(text) {
        _ = try? SASTokenVerifier.verify(
            token, resource: token.resource, primary: sasKey, secondary: sasKey, now: 1_800_000_000)
        let signature = Data(sasKey.authenticationCode(encodedResource: token.encodedResource, expiry: token.expiry))
        var resigned = "SharedAccessSignature sr=\(token.encodedResource)"
        resigned += "&sig=\(SASTokenSigner.percentEncode(signature.base64EncodedString()))&se=\(token.expiry)"
        if let keyName = token.keyName { resigned += "&skn=\(SASTokenSigner.percentEncode(keyName.rawValue))" }
        guard let again = try? SASToken.parse(resigned) else { preconditionFailure("a re-signed token must parse") }
        precondition(again.resource == token.resource && again.expiry == token.expiry, "re-signing changed fields")
        // An empty scope (`sr=/`) verifies for nothing, by design.
        if token.expiry > 0, !["", "/"].contains(token.resource) {
            precondition(
                (try? SASTokenVerifier.verify(
                    again, resource: token.resource, primary: sasKey, secondary: sasKey, now: 0))
                    != nil, "a token signed with the key must verify")
        }
    }
    // The signer's own tokens, for whatever resource text and expiry the input holds.
    let expiry = text.utf8.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    if text.utf8.count <= 1024,
        let token = try? SASToken.parse(SASTokenSigner.token(resource: text, key: key, expiry: expiry))
    {
        precondition(token.resource == text, "the signer's resource must parse back unchanged")
    }
    return 0
}
