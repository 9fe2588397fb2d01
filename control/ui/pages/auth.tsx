import { Hono } from "hono";
import { fieldErrors } from "../../../protocol/messages.ts";
import { revokeApiToken, userForToken } from "../../accounts/users.ts";
import { Login, Signup } from "../../contract/accounts.ts";
import { logInLimited, signUpLimited, tokenOrigin } from "../../operations/auth.ts";
import { ApiError } from "../../errors.ts";
import { endSession, sessionToken, startSession } from "../../http/session.ts";
import { Field, FormError } from "../components.tsx";
import {
  CLUSTERS_PATH,
  checkForm,
  checkOrigin,
  formField,
  localPath,
  readFlash,
  redirectWithFlash,
  requireSession,
  type UiContext,
  type UiEnv,
} from "../context.ts";
import { errorsByField, type FormErrors } from "../form-errors.ts";
import { renderPage } from "../layout.tsx";

interface AuthFormProps {
  mode: "login" | "signup";
  email: string;
  next: string;
  errors: FormErrors;
  message?: string;
}

function AuthForm(props: AuthFormProps) {
  const login = props.mode === "login";
  return (
    <section class="auth-card" aria-labelledby="auth-title">
      <h1 id="auth-title">{login ? "Log in to DCX" : "Create your DCX account"}</h1>
      <FormError message={props.message} />
      <form method="post" action={login ? "/login" : "/signup"} novalidate>
        <input type="hidden" name="next" value={props.next} />
        <Field name="email" label="Email" type="email" value={props.email} errors={props.errors.email} autocomplete="email" required />
        <Field
          name="password"
          label="Password"
          type="password"
          errors={props.errors.password}
          autocomplete={login ? "current-password" : "new-password"}
          hint={login ? undefined : "At least 10 characters."}
          required
        />
        <button type="submit" class="primary">
          {login ? "Log in" : "Sign up"}
        </button>
      </form>
      <p>
        {login ? "No account yet? " : "Already have an account? "}
        <a href={login ? "/signup" : "/login"}>{login ? "Sign up" : "Log in"}</a>
      </p>
    </section>
  );
}

function showForm(c: UiContext, props: AuthFormProps, status: 200 | 401 | 409 | 422 | 429 = 200) {
  return renderPage(c, { title: props.mode === "login" ? "Log in" : "Sign up", status }, <AuthForm {...props} />);
}

/** The signed-in user's home: the first cluster's overview, or the Clusters page to create one. */
async function home(c: UiContext) {
  const first = c.get("clusters")[0];
  return c.redirect(first ? `/ui/${first.id}` : CLUSTERS_PATH, 303);
}

/** A visitor with a valid session skips the login and signup pages. */
async function signedIn(c: UiContext): Promise<boolean> {
  const token = sessionToken(c);
  return token !== undefined && (await userForToken(c.get("db"), token)) !== undefined;
}

/** `/`, `/login`, `/signup`, `/logout`: the pages outside any cluster. */
export const authPages = new Hono<UiEnv>()
  .get("/", requireSession, readFlash, home)
  .get("/login", readFlash, async (c) => {
    if (await signedIn(c)) return c.redirect(localPath(c.req.query("next")), 303);
    return showForm(c, { mode: "login", email: "", next: localPath(c.req.query("next")), errors: {} });
  })
  .get("/signup", readFlash, async (c) => {
    if (await signedIn(c)) return c.redirect("/", 303);
    return showForm(c, { mode: "signup", email: "", next: "/", errors: {} });
  })
  .post("/login", checkOrigin, async (c) => {
    const input = { email: await formField(c, "email"), password: await formField(c, "password") };
    const next = localPath(await formField(c, "next"));
    const parsed = Login.safeParse(input);
    if (!parsed.success) return showForm(c, { mode: "login", email: input.email, next, errors: errorsByField(fieldErrors(parsed.error)) }, 422);
    try {
      const { token } = await logInLimited(c.env, c.get("db"), parsed.data.email, parsed.data.password, tokenOrigin(c, "ui"));
      startSession(c, token);
      return c.redirect(next, 303);
    } catch (err) {
      if (!(err instanceof ApiError) || (err.code !== "unauthenticated" && err.code !== "rate_limited")) throw err;
      return showForm(c, { mode: "login", email: input.email, next, errors: {}, message: err.message }, err.code === "rate_limited" ? 429 : 401);
    }
  })
  .post("/signup", checkOrigin, async (c) => {
    const input = { email: await formField(c, "email"), password: await formField(c, "password") };
    const parsed = Signup.safeParse(input);
    if (!parsed.success) return showForm(c, { mode: "signup", email: input.email, next: "/", errors: errorsByField(fieldErrors(parsed.error)) }, 422);
    try {
      const { token, cluster } = await signUpLimited(c.env, c.get("db"), parsed.data.email, parsed.data.password, tokenOrigin(c, "ui"));
      startSession(c, token);
      return redirectWithFlash(c, `/ui/${cluster.id}/tokens`, {
        kind: "ok",
        text: `Welcome! Your cluster '${cluster.name}' is ready. Create an agent token below to add a machine.`,
      });
    } catch (err) {
      if (err instanceof ApiError && err.code === "rate_limited")
        return showForm(c, { mode: "signup", email: input.email, next: "/", errors: {}, message: err.message }, 429);
      if (!(err instanceof ApiError) || err.code !== "conflict") throw err;
      return showForm(c, { mode: "signup", email: input.email, next: "/", errors: { email: [err.message] } }, 409);
    }
  })
  .post("/logout", checkForm, requireSession, async (c) => {
    await revokeApiToken(c.get("db"), c.get("tokenHash"));
    endSession(c);
    return redirectWithFlash(c, "/login", { kind: "ok", text: "You are logged out." });
  });
