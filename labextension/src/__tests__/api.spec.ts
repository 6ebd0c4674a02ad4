/**
 * The requests TutorClient sends (through JupyterLab's ServerConnection with a fake fetch).
 */
import { ServerConnection } from '@jupyterlab/services';

import { TutorApiError, TutorClient } from '../api';

interface ISent {
  url: string;
  method: string;
  body: any;
}

function fakeServer(respond: (sent: ISent) => Response): {
  client: TutorClient;
  sent: ISent[];
} {
  const sent: ISent[] = [];
  const fetch = async (input: RequestInfo, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(input, init);
    const text = await request.text();
    const s = {
      url: request.url,
      method: request.method,
      body: text ? JSON.parse(text) : null
    };
    sent.push(s);
    return respond(s);
  };
  const settings = ServerConnection.makeSettings({
    baseUrl: 'http://tutor.test/user/ada/',
    wsUrl: 'ws://tutor.test/user/ada/',
    token: 'tok',
    appendToken: true,
    fetch: fetch as any
  });
  return { client: new TutorClient(settings), sent };
}

const json = (data: unknown, status = 200) =>
  new Response(JSON.stringify(data), {
    status,
    headers: { 'Content-Type': 'application/json' }
  });

describe('TutorClient', () => {
  it('sends the cell and the consent only when there are some', async () => {
    const { client, sent } = fakeServer(() =>
      json({ question: {}, reply: {} })
    );
    await client.ask('a b.ipynb', 'why?');
    await client.ask('a b.ipynb', 'why?', 'cell-1', true);
    await client.more('a b.ipynb');
    await client.more('a b.ipynb', 'cell-2', true);
    expect(
      sent.map(s => [
        s.method,
        new URL(s.url).pathname.split('/ltt/api/tutor/')[1]
      ])
    ).toEqual([
      ['POST', 'ask'],
      ['POST', 'ask'],
      ['POST', 'more'],
      ['POST', 'more']
    ]);
    expect(sent.map(s => s.body)).toEqual([
      { path: 'a b.ipynb', text: 'why?' },
      { path: 'a b.ipynb', text: 'why?', cell_id: 'cell-1', consent: true },
      { path: 'a b.ipynb' },
      { path: 'a b.ipynb', cell_id: 'cell-2', consent: true }
    ]);
    expect(
      sent[0].url.startsWith('http://tutor.test/user/ada/ltt/api/tutor/')
    ).toBe(true);
  });

  it('asks for the history since a time', async () => {
    const { client, sent } = fakeServer(() =>
      json({ messages: [{ id: 'x' }] })
    );
    expect(await client.history('n.ipynb')).toEqual([{ id: 'x' }]);
    await client.history('n.ipynb', 12.5);
    expect(new URL(sent[0].url).searchParams.get('path')).toBe('n.ipynb');
    expect(new URL(sent[0].url).searchParams.has('since')).toBe(false);
    expect(new URL(sent[1].url).searchParams.get('since')).toBe('12.5');
  });

  it("raises the server's message with the status", async () => {
    const { client } = fakeServer(() =>
      json({ message: 'The tutor is turned off on this server.' }, 503)
    );
    const error = await client.info().catch(e => e);
    expect(error).toBeInstanceOf(TutorApiError);
    expect(error.status).toBe(503);
    expect(error.message).toBe('The tutor is turned off on this server.');
  });

  it('builds the stream URL with the path and the token', () => {
    const { client } = fakeServer(() => json({}));
    expect(client.streamUrl('dir/a b.ipynb')).toBe(
      'ws://tutor.test/user/ada/ltt/api/tutor/stream?path=dir%2Fa%20b.ipynb&token=tok'
    );
  });
});
