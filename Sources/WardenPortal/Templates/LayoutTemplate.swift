/// The page frame: landmarks, the navigation the signed-in principal may use, and the sign-out form.
enum LayoutTemplate {
    static let layout = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · Warden</title>
        <link rel="stylesheet" href="/static/portal.css">
        <script src="/static/portal.js" defer></script>
        </head>
        <body>
        <a class="skip" href="#main">Skip to content</a>
        {{#signedIn}}
        <header class="top" role="banner">
          <a class="brand" href="/">WARDEN</a>
          <nav aria-label="Main">
            <ul>
            {{#nav}}<li><a href="{{href}}"{{#current}} aria-current="page"{{/current}}>{{label}}</a></li>{{/nav}}
            </ul>
          </nav>
          <div class="who">
            <a class="account" href="/account">{{userName}}</a>
            <form class="inline" method="post" action="/signout">
              <input type="hidden" name="_csrf" value="{{csrf}}">
              <button type="submit">Sign out</button>
            </form>
          </div>
        </header>
        {{/signedIn}}
        <main id="main">
        {{#notice}}<div class="notice" role="status">{{notice}}</div>{{/notice}}
        {{#error}}<div class="notice error" role="alert">{{error}}</div>{{/error}}
        {{{content}}}
        </main>
        </body>
        </html>
        """#

    static let signIn = #"""
        <div class="signin card">
          <h1>Sign in to Warden</h1>
          <form class="stack" method="post" action="/signin">
            <input type="hidden" name="_csrf" value="{{csrf}}">
            <input type="hidden" name="next" value="{{next}}">
            <label for="username">Username</label>
            <input id="username" name="username" autocomplete="username" required value="{{username}}" autofocus>
            <label for="password">Password</label>
            <input id="password" name="password" type="password" autocomplete="current-password" required>
            {{#askTOTP}}
            <label for="totp">Code from your authenticator app</label>
            <input id="totp" name="totp" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" required>
            {{/askTOTP}}
            <p><button type="submit">Sign in</button></p>
          </form>
        </div>
        """#

    static let message = #"""
        <h1>{{heading}}</h1>
        <div class="card"><p>{{text}}</p>{{#reference}}<p class="muted">Reference {{reference}}</p>{{/reference}}
        <p><a href="/">Back to the overview</a></p></div>
        """#
}
